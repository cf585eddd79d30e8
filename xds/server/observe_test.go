package server

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/xds/cache"
)

// TestRefusedPushIsAnEvent checks that a push which refused some proxies
// their new configuration says so in the events, once per reason, naming
// the proxies and the reason on one line, and carrying the refusal as the
// push described it: the refused resources and the inputs behind them.
func TestRefusedPushIsAnEvent(t *testing.T) {
	bus := events.New(10)
	bad := errors.New("Envoy would refuse this configuration:\n[local_ratelimit.fill-interval] local rate limit token bucket fill timer must be >= 50ms")
	onPush(bus, noMetrics{})(cache.PushInfo{Revision: 4, At: time.Now(), Nodes: 3,
		Refused: map[string]error{"b.default": bad, "a.default": bad},
		Refusals: []events.Refusal{{Proxies: []string{"a.default", "b.default"}, Since: 3, Inputs: []string{"TrafficPolicy/default/web"},
			Problems: []events.Problem{{Resource: "Listener inbound|8080", Reason: "[local_ratelimit.fill-interval] local rate limit token bucket fill timer must be >= 50ms"}}}}})
	var refused []events.Event
	for _, e := range bus.Recent(10) {
		if e.Kind == events.KindRefused {
			refused = append(refused, e)
		}
	}
	if len(refused) != 1 {
		t.Fatalf("want one refusal event, got %+v", refused)
	}
	e := refused[0]
	if e.Revision != 4 || e.Proxy != "a.default" || !strings.Contains(e.Message, "a.default, b.default") || !strings.Contains(e.Message, "fill timer must be >= 50ms") || strings.Contains(e.Message, "\n") {
		t.Errorf("event %+v does not name the proxies and the reason", e)
	}
	if r := e.Refusal; r == nil || len(r.Problems) != 1 || r.Problems[0].Resource != "Listener inbound|8080" || r.Since != 3 ||
		!slices.Equal(e.Resources, []string{"TrafficPolicy/default/web"}) {
		t.Errorf("event %+v does not carry the refused resource and the inputs behind it", e)
	}
}
