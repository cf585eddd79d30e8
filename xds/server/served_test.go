package server

import (
	"maps"
	"testing"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
)

func res(name, version string) *discovery.Resource {
	return &discovery.Resource{Name: name, Version: version}
}

// What a delta node acked is what it was sent less what is pending and
// what it rejected, whether it is kept apart (after a rejection) or
// worked out from the current state (while none is in the way).
func TestDeltaAckedStateLeavesOutPendingAndRejected(t *testing.T) {
	var s served
	check := func(step string, want map[string]string) {
		t.Helper()
		if got := s.ackedDeltaNow(); !maps.Equal(got, want) || (got == nil) != (want == nil) {
			t.Fatalf("%s: acked %v, want %v", step, got, want)
		}
	}
	s.sentDelta("1", "v1", []*discovery.Resource{res("a", "1"), res("b", "1")}, nil)
	check("before any answer", nil)
	s.answered("1", "v1", held{}, false)
	check("after the first ack", map[string]string{"a": "1", "b": "1"})

	s.sentDelta("2", "v2", []*discovery.Resource{res("a", "2")}, []string{"b"})
	check("while 2 is pending", map[string]string{"a": "1", "b": "1"})
	s.answered("2", "v2", held{}, true)
	check("after 2 was rejected", map[string]string{"a": "1", "b": "1"})

	s.sentDelta("3", "v3", []*discovery.Resource{res("c", "1")}, nil)
	s.answered("3", "v3", held{}, false)
	check("after 3 was acked", map[string]string{"a": "1", "b": "1", "c": "1"})

	s.sentDelta("4", "v4", []*discovery.Resource{res("a", "3")}, []string{"b"})
	s.answered("4", "v4", held{}, false)
	check("after 4 made it the current state again", map[string]string{"a": "3", "c": "1"})
	if s.diverged {
		t.Fatal("the acked state is kept apart although it is the current one")
	}

	var fresh served
	fresh.sentDelta("1", "v1", []*discovery.Resource{res("a", "1")}, nil)
	fresh.answered("1", "v1", held{}, true)
	fresh.sentDelta("2", "v2", []*discovery.Resource{res("b", "1")}, nil)
	fresh.answered("2", "v2", held{}, false)
	if got := fresh.ackedDeltaNow(); !maps.Equal(got, map[string]string{"b": "1"}) {
		t.Fatalf("a first response rejected, the second acked: acked %v, want only b", got)
	}
}
