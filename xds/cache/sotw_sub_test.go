package cache

import (
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"
)

// TestSotwSubFollowsGoControlPlane runs random requests' names through a
// SotwSub and go-control-plane's stream.Subscription, with what the
// proxy was answered for set alike after each, and requires the same
// subscription at every step.
func TestSotwSubFollowsGoControlPlane(t *testing.T) {
	universe := []string{"a", "b", "c", "*"}
	for seed := range uint64(500) {
		rng := rand.New(rand.NewPCG(seed, 11))
		pick := func() []string {
			var out []string
			for range rng.IntN(5) {
				out = append(out, universe[rng.IntN(len(universe))])
			}
			return out
		}
		first := pick()
		ref := stream.NewSotwSubscription(first, true)
		got := NewSotwSub(first)
		for step := range 30 {
			if rng.IntN(2) == 0 {
				names := pick()
				ref.SetResourceSubscription(names)
				got.Set(names)
			} else {
				key := universe[rng.IntN(len(universe))]
				if key == "*" {
					key = ""
				}
				ref.SetReturnedResources(map[string]string{key: "v"})
				got.Answered(map[string]string{key: "v"})
			}
			if ref.IsWildcard() != got.IsWildcard() || !maps.Equal(ref.SubscribedResources(), got.SubscribedResources()) ||
				len(ref.ReturnedResources()) != len(got.ReturnedResources()) {
				t.Fatalf("seed %d step %d: wildcard %v names %v returned %v; go-control-plane: %v %v %v", seed, step,
					got.IsWildcard(), got.SubscribedResources(), got.ReturnedResources(),
					ref.IsWildcard(), ref.SubscribedResources(), ref.ReturnedResources())
			}
		}
	}
}

func TestSotwSubRecognisesRepeatedNames(t *testing.T) {
	s := NewSotwSub([]string{"a", "b"})
	names := s.names
	s.Set([]string{"b", "a"})
	if s.names != names {
		t.Fatal("the same names in another order built a new set")
	}
	s.Set([]string{"a", "a"})
	if _, ok := s.SubscribedResources()["b"]; ok || len(s.SubscribedResources()) != 1 {
		t.Fatalf("a repeated name was taken for the set it replaces: %v", s.SubscribedResources())
	}
}
