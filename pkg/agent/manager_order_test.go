package agent

import (
	"fmt"
	"testing"
	"time"
)

// Subscribers (the PEM files, SDS) get each identity before Current and
// Watch show it, so whoever sees a new SVID there finds the files and SDS
// already holding it. The check runs inside a subscriber, where the old
// order had already made the identity visible: it fails deterministically.
func TestSubscribersHaveAnIdentityBeforeItIsVisible(t *testing.T) {
	m := NewManager(ManagerConfig{ControlPlane: newFakeCP(t, time.Minute), Token: "emb1.test.secret", Workload: "web-1"})
	var early []string
	m.OnUpdate(func(id *Identity) {
		cur, changed := m.Watch()
		if cur.Generation >= id.Generation {
			early = append(early, fmt.Sprintf("generation %d is already what Current returns", id.Generation))
		}
		select {
		case <-changed:
			early = append(early, fmt.Sprintf("generation %d has already woken Watch", id.Generation))
		default:
		}
	})
	cancel, done := runUntil(t, m.Run, m.Ready(), "the first SVID")
	if got := m.Current().Generation; got < 1 {
		t.Fatalf("Ready before the SVID is visible: generation %d", got)
	}
	cancel()
	<-done
	if len(early) > 0 {
		t.Fatalf("identities visible before their subscribers had them: %q", early)
	}
}
