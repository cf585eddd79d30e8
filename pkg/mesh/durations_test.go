package mesh

import (
	"slices"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/resource"
)

// TestModelParsesDurationsOnce: the translator reads every Route and
// TrafficPolicy duration as a time.Duration from the model; one that
// bypassed validation is zero and named in Problems.
func TestModelParsesDurationsOnce(t *testing.T) {
	snap := New(1, []*resource.Resource{
		res(resource.KindRoute, "shop", "web", &resource.RouteSpec{Service: "web", Rules: []resource.RouteRule{
			{Timeout: "2s", IdleTimeout: "30s",
				Retries:   &resource.RetryPolicy{Attempts: 2, PerTryTimeout: "500ms", Backoff: &resource.RetryBackoff{Base: "25ms", Max: "250ms"}},
				Fault:     &resource.Fault{Delay: &resource.FaultDelay{Fixed: "100ms", Percent: 10}},
				RateLimit: &resource.RateLimit{MaxTokens: 5, FillInterval: "1s"}},
			{Timeout: "soon", Fault: &resource.Fault{Delay: &resource.FaultDelay{Percent: 1}}},
		}}),
		res(resource.KindTrafficPolicy, "shop", "web", &resource.TrafficPolicySpec{Service: "web", ConnectTimeout: "-1s",
			ConnectionPool:   &resource.ConnectionPool{TCPKeepalive: &resource.TCPKeepalive{Time: "60s", Interval: "10s"}},
			OutlierDetection: &resource.OutlierDetection{Interval: "5s", BaseEjectionTime: "30s"},
			HealthCheck:      &resource.HealthCheck{Interval: "3s", Timeout: "1s"},
			LoadBalancer:     &resource.LoadBalancer{Policy: resource.LBRingHash, HashCookie: &resource.HashCookie{Name: "s", TTL: "1h"}},
			RateLimit:        &resource.RateLimit{MaxTokens: 9, FillInterval: "100ms"}}),
	})
	r := snap.RoutesFor(ServiceRef{"shop", "web"})[0]
	want := RuleTimes{Timeout: 2 * time.Second, IdleTimeout: 30 * time.Second, PerTryTimeout: 500 * time.Millisecond,
		BackoffBase: 25 * time.Millisecond, BackoffMax: 250 * time.Millisecond, FaultDelay: 100 * time.Millisecond, FillInterval: time.Second}
	if got := r.Times(0); got != want {
		t.Errorf("rule 0 times %+v, want %+v", got, want)
	}
	if got := r.Times(1); got != (RuleTimes{}) {
		t.Errorf("rule 1 times %+v, want all unset", got)
	}
	if got := r.Times(2); got != (RuleTimes{}) {
		t.Errorf("a rule past the end has times %+v", got)
	}
	wantProblems := []string{`rules[1].timeout "soon" is not a duration; ignored`, "rules[1].fault.delay.fixed is required; ignored"}
	if !slices.Equal(r.Problems, wantProblems) {
		t.Errorf("route problems %q, want %q", r.Problems, wantProblems)
	}

	tp := snap.TrafficPolicyFor(ServiceRef{"shop", "web"})
	wantTP := PolicyTimes{KeepaliveTime: time.Minute, KeepaliveInterval: 10 * time.Second, OutlierInterval: 5 * time.Second,
		BaseEjectionTime: 30 * time.Second, HealthInterval: 3 * time.Second, HealthTimeout: time.Second,
		HashCookieTTL: time.Hour, FillInterval: 100 * time.Millisecond}
	if tp.Times != wantTP {
		t.Errorf("policy times %+v, want %+v", tp.Times, wantTP)
	}
	if want := []string{`connectTimeout "-1s" is not a positive duration; ignored`}; !slices.Equal(tp.Problems, want) {
		t.Errorf("policy problems %q, want %q", tp.Problems, want)
	}
}
