package agent

import (
	"context"
	"slices"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/dataplane"
)

// The agent caches a deterministic policy's decisions and its stats say
// so: the second of two requests that differ only in what the policy does
// not read is a hit.
func TestAuthzStatsShowTheDecisionCache(t *testing.T) {
	a := NewAuthz(nil, nil, 1, 0)
	a.SetDecisionCache(8)
	one := compileWithQuery(t, "shop/one", "x-one")
	if err := a.Update([]PolicyUpdate{{Name: dataplane.AuthzExtensionPrefix + "shop/one", Bundle: one}}); err != nil {
		t.Fatal(err)
	}
	// The first Check starts the analysis of the revision, and goes
	// uncached until it is done.
	check := func() {
		if _, err := a.Check(context.Background(), checkRequest("GET", "/")); err != nil {
			t.Fatal(err)
		}
	}
	check()
	for i := 0; !a.Stats().Policies[0].Cache.Ready; i++ {
		if i == 1000 {
			t.Fatal("the cache never analysed the revision")
		}
		time.Sleep(10 * time.Millisecond)
	}
	check()
	check()
	c := a.Stats().Policies[0].Cache
	if !c.Cacheable || !slices.Equal(c.Fields, []string{"attributes.request.http.path"}) || c.Hits != 1 || c.Misses != 1 || c.Entries != 1 {
		t.Errorf("cache stats %+v", c)
	}
}
