package cache

import (
	"fmt"
	"testing"
	"time"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/cache/cachetest"
)

func TestBurstOfUpdatesIsDebounced(t *testing.T) {
	fake := cachetest.New()
	p := NewPublisher(Options{Translator: fake, Debounce: 50 * time.Millisecond, MaxDelay: time.Second})
	t.Cleanup(p.Close)
	p.Connect(cachetest.EnvoyNode("web.default"))

	const updates = 50
	for rev := int64(1); rev <= updates; rev++ {
		p.Update(mesh.New(rev, nil))
	}
	poll.Until(t, "the last revision", func() bool { return p.Revision() == updates })
	if got := p.Pushes(); got > 3 {
		t.Errorf("%d updates gave %d pushes, want at most 3", updates, got)
	}
	if got := fake.OutboundCalls(); got != p.Pushes() {
		t.Errorf("Outbound ran %d times for %d pushes", got, p.Pushes())
	}
}

func TestPushDeadline(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := time.Millisecond
	cases := []struct {
		name        string
		first, last time.Time
		want        time.Time
	}{
		{"single update waits the debounce", t0, t0, t0.Add(100 * ms)},
		{"later update restarts the debounce", t0, t0.Add(300 * ms), t0.Add(400 * ms)},
		{"steady updates are capped by the max delay", t0, t0.Add(950 * ms), t0.Add(time.Second)},
	}
	for _, c := range cases {
		if got := pushDeadline(c.first, c.last, 100*ms, time.Second); !got.Equal(c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got.Sub(t0), c.want.Sub(t0))
		}
	}
}

// TestDebounceLongerThanTheDefaultBoundIsKept: a debounce asked for
// without a bound is not cut short by the default one, so a single update
// is pushed a whole debounce later, never at the default bound.
func TestDebounceLongerThanTheDefaultBoundIsKept(t *testing.T) {
	p := NewPublisher(Options{Translator: cachetest.New(), Debounce: 3 * time.Second})
	t.Cleanup(p.Close)
	t0 := time.Unix(1000, 0)
	if got := pushDeadline(t0, t0, p.debounce, p.maxDelay).Sub(t0); got != 3*time.Second {
		t.Fatalf("a single update with a 3s debounce is pushed after %v, want 3s", got)
	}
}

// TestALoneUpdateIsPushedAtOnce: with an hour's debounce, the first
// update is pushed at once, the one right after its push waits, and one
// after a quiet spell of a debounce is pushed at once again.
func TestALoneUpdateIsPushedAtOnce(t *testing.T) {
	p := NewPublisher(Options{Translator: cachetest.New(), Debounce: time.Hour, MaxDelay: time.Hour})
	t.Cleanup(p.Close)
	p.Connect(cachetest.EnvoyNode("web.default"))

	p.Update(mesh.New(1, nil))
	poll.UntilState(t, "the first update's push", func() (bool, string) {
		return p.Revision() == 1, fmt.Sprintf("pushed revision %d", p.Revision())
	})

	p.Update(mesh.New(2, nil))
	if got := p.PendingUpdates(); got != 1 {
		t.Fatalf("an update right after a push: %d pending, want it held (1)", got)
	}

	p.pendingMu.Lock()
	p.pending, p.pendingCount = nil, 0
	p.lastActive = time.Now().Add(-2 * time.Hour)
	p.pendingMu.Unlock()
	p.Update(mesh.New(3, nil))
	poll.UntilState(t, "the push of an update after a quiet spell", func() (bool, string) {
		return p.Revision() == 3, fmt.Sprintf("pushed revision %d", p.Revision())
	})
}

// TestHoldEveryHoldsTheFirstUpdate: HoldEvery keeps even the first
// update for the debounce.
func TestHoldEveryHoldsTheFirstUpdate(t *testing.T) {
	p := NewPublisher(Options{Translator: cachetest.New(), Debounce: time.Hour, MaxDelay: time.Hour, HoldEvery: true})
	t.Cleanup(p.Close)
	p.Update(mesh.New(1, nil))
	if at, ok := p.deadline(); !ok || time.Until(at) < 59*time.Minute {
		t.Fatalf("the first update with HoldEvery is due in %v (pending %v), want the hour's debounce", time.Until(at), ok)
	}
}
