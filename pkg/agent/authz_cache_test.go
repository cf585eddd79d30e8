package agent

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/dataplane"
)

// The agent caches a deterministic policy's decisions and its stats say
// so: once the revision is analysed, a path asked twice is one miss and
// one hit, keyed on the one field the policy reads.
func TestAuthzStatsShowTheDecisionCache(t *testing.T) {
	a := NewAuthz(nil, nil, nil, 1, testAuthzTimeout)
	a.SetDecisionCache(8)
	one := compileWithQuery(t, "shop/one", "x-one")
	if err := a.Update([]PolicyUpdate{{Name: dataplane.AuthzExtensionPrefix + "shop/one", Bundle: one}}); err != nil {
		t.Fatal(err)
	}
	// The first Check starts the analysis of the revision, and goes
	// uncached until it is done.
	check := func(path string) {
		if _, err := a.Check(context.Background(), checkRequest("GET", path)); err != nil {
			t.Fatal(err)
		}
	}
	check("/")
	poll.UntilState(t, "the cache to analyse the revision", func() (bool, string) {
		c := a.Stats().Policies[0].Cache
		return c.Ready, fmt.Sprintf("cache stats %+v", c)
	})
	// Whether the first Check was stored depends on when the analysis
	// finished, so count from here, on a path not asked before: one miss,
	// then one hit.
	before := a.Stats().Policies[0].Cache
	check("/new")
	check("/new")
	c := a.Stats().Policies[0].Cache
	if !c.Cacheable || !slices.Equal(c.Fields, []string{"attributes.request.http.path"}) ||
		c.Hits != before.Hits+1 || c.Misses != before.Misses+1 || c.Entries != before.Entries+1 {
		t.Errorf("cache stats %+v, before the two Checks %+v", c, before)
	}
}
