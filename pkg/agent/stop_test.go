package agent

import (
	"sync/atomic"
	"testing"
	"time"

	"embassy.dev/embassy/internal/poll"
)

// Run returns only once the manager has stopped: a subscriber still
// writing the PEM files of a rotation when the agent is stopped finishes
// first, so a restarted agent never reads a new chain beside an old key.
// The subscriber here blocks until released; the old Run returned at once.
func TestRunWaitsForTheManager(t *testing.T) {
	a, err := New(Config{SocketDir: shortTempDir(t), ControlPlane: newFakeCP(t, 2*time.Second), Token: "emb1.test.secret", Workload: "web-1.shop"})
	if err != nil {
		t.Fatal(err)
	}
	var serving atomic.Bool
	inSink, release := make(chan struct{}, 1), make(chan struct{})
	a.Manager().OnUpdate(func(id *Identity) {
		if serving.Load() && id.SVID != nil {
			select {
			case inSink <- struct{}{}:
			default:
			}
			<-release
		}
	})
	cancel, done := runUntil(t, a.Run, a.Serving(), "the agent to serve")
	defer cancel()
	serving.Store(true)
	select {
	case <-inSink:
	case <-time.After(10 * time.Second):
		t.Fatal("no rotation within 10s")
	}
	cancel()
	select {
	case err := <-done:
		close(release)
		t.Fatalf("Run returned (%v) while a subscriber was still taking a rotation", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	poll.Returned(t, "the agent, once the subscriber returned,", done)
}
