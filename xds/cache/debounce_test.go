package cache

import (
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
