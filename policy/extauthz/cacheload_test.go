package extauthz

import (
	"context"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/code"

	"embassy.dev/embassy/internal/bundletest"
	"embassy.dev/embassy/policy/engine"
)

const principalPolicy = `package envoy.authz

default allow := false

allow if input.attributes.source.principal == "spiffe://d/ns/web/sa/frontend"
`

// TestLoadAnalysesAhead: a revision loaded through Server.Load is
// analysed before it decides, so its first Checks are cached rather than
// uncached while a background analysis runs; a failed Load keeps the
// previous revision and its cache, and reloading the same revision keeps
// what it cached.
func TestLoadAnalysesAhead(t *testing.T) {
	s := New(engine.New(), Options{CacheSize: 10})
	first, second := compileRego(t, principalPolicy), compileRego(t, principalPolicy+"\n# another revision\n")
	if err := s.Load(first); err != nil {
		t.Fatal(err)
	}
	if st := s.CacheStats(); !st.Ready || !st.Cacheable {
		t.Fatalf("before the first Check: %+v, want the revision analysed and cacheable", *st)
	}
	req := httpRequest("GET", "/", nil, "spiffe://d/ns/web/sa/frontend")
	checkTwice := func() {
		t.Helper()
		for range 2 {
			resp, err := s.Check(context.Background(), req)
			if err != nil || resp.GetStatus().GetCode() != int32(code.Code_OK) {
				t.Fatalf("%v %v", resp, err)
			}
		}
	}
	checkTwice()
	if st := s.CacheStats(); st.Hits != 1 || st.Misses != 1 || st.Uncacheable != 0 {
		t.Fatalf("after two Checks: %+v, want one miss, then one hit", *st)
	}
	if err := s.Load(compileRego(t, principalPolicy)); err != nil {
		t.Fatal(err)
	}
	if st := s.CacheStats(); st.Entries != 1 {
		t.Fatalf("reloading the same revision emptied its cache: %+v", *st)
	}
	broken := bundletest.ForgeBundle(t, first, "package envoy.authz\n\nallow if {\n")
	if err := s.Load(broken); err == nil {
		t.Fatal("a broken revision loaded")
	}
	if st := s.CacheStats(); st.Entries != 1 || !st.Ready {
		t.Fatalf("a failed Load replaced the cache: %+v", *st)
	}
	if err := s.Load(second); err != nil {
		t.Fatal(err)
	}
	checkTwice()
	if st := s.CacheStats(); st.Entries != 1 || st.Hits != 2 || st.Uncacheable != 0 {
		t.Fatalf("after the next revision's two Checks: %+v, want a new cache with one entry, hit once", *st)
	}
}
