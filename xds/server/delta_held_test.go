package server

import (
	"fmt"
	"maps"
	"testing"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
)

// Applying changes gives what a map of every name would hold, past the
// point where the changes are merged into a new base, and leaves the
// value it was applied to as it was: a response's state and the acked one
// share it.
func TestDeltaHeldAppliesChangesWithoutChangingWhatWasHeld(t *testing.T) {
	want := map[string]string{}
	var first []*discovery.Resource
	for i := range 10 {
		n := fmt.Sprintf("r%02d", 9-i) // out of order
		first = append(first, res(n, "1"))
		want[n] = "1"
	}
	h := deltaHeld{}.apply(first, nil)
	kept, keptWant := h, maps.Clone(want)
	for i := range 3 * maxOver {
		n := fmt.Sprintf("r%02d", i%15)
		if i%4 == 3 {
			h = h.apply(nil, []string{n})
			delete(want, n)
			continue
		}
		v := fmt.Sprint(i)
		h = h.apply([]*discovery.Resource{res(n, v)}, nil)
		want[n] = v
		if got := h.versions(); !maps.Equal(got, want) {
			t.Fatalf("after change %d: held %v, want %v", i, got, want)
		}
	}
	if got := kept.versions(); !maps.Equal(got, keptWant) {
		t.Fatalf("the first state changed to %v, want %v", got, keptWant)
	}
	if r, ok := kept.get("r03"); !ok || r.GetVersion() != "1" {
		t.Fatalf("get r03 of the first state: %v, %v", r, ok)
	}
	if !h.sameAs(deltaHeld{base: h.list()}) || h.sameAs(kept) {
		t.Fatal("sameAs does not compare versions by name")
	}
}
