package agent

import (
	"context"
	"slices"
	"testing"
)

// The agent caches a deterministic policy's decisions and its stats say
// so: the second of two requests that differ only in what the policy does
// not read is a hit.
func TestAuthzStatsShowTheDecisionCache(t *testing.T) {
	a := NewAuthz(nil, nil, 0)
	a.SetDecisionCache(8)
	one := compileWithQuery(t, "shop/one", "x-one")
	if err := a.Update([]PolicyUpdate{{Name: AuthzPolicyPrefix + "shop/one", Bundle: one}}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := a.Check(context.Background(), checkRequest("GET", "/")); err != nil {
			t.Fatal(err)
		}
	}
	c := a.Stats().Policies[0].Cache
	if !c.Cacheable || !slices.Equal(c.Fields, []string{"attributes.request.http.path"}) || c.Hits != 1 || c.Misses != 1 || c.Entries != 1 {
		t.Errorf("cache stats %+v", c)
	}
}
