package mesh

import (
	"fmt"
	"time"

	"embassy.dev/embassy/pkg/resource"
)

// RuleTimes are a Route rule's durations, parsed once. Zero means unset
// (or unusable, which Route.Problems then says).
type RuleTimes struct {
	Timeout       time.Duration
	IdleTimeout   time.Duration
	PerTryTimeout time.Duration
	BackoffBase   time.Duration
	BackoffMax    time.Duration
	FaultDelay    time.Duration
	FillInterval  time.Duration
}

// PolicyTimes are a TrafficPolicy's durations, parsed once. Zero means
// unset (or unusable, which TrafficPolicy.Problems then says).
type PolicyTimes struct {
	ConnectTimeout    time.Duration
	KeepaliveTime     time.Duration
	KeepaliveInterval time.Duration
	OutlierInterval   time.Duration
	BaseEjectionTime  time.Duration
	HealthInterval    time.Duration
	HealthTimeout     time.Duration
	HashCookieTTL     time.Duration
	FillInterval      time.Duration
}

// Times returns the durations of the route's i-th rule; zero for a rule
// the model did not resolve.
func (r *Route) Times(i int) RuleTimes {
	if i < 0 || i >= len(r.RuleTimes) {
		return RuleTimes{}
	}
	return r.RuleTimes[i]
}

// durations parses a resource's durations and collects what is wrong with
// them. Validation refuses every such problem at apply, so only a resource
// that bypassed it (a test, an older store) ever has one.
type durations struct{ problems []string }

// parse returns d, or zero when it is unset, malformed or not positive.
func (p *durations) parse(field string, d resource.Duration) time.Duration {
	if d == "" {
		return 0
	}
	v, err := time.ParseDuration(string(d))
	switch {
	case err != nil:
		p.problems = append(p.problems, fmt.Sprintf("%s %q is not a duration; ignored", field, d))
		return 0
	case v <= 0:
		p.problems = append(p.problems, fmt.Sprintf("%s %q is not a positive duration; ignored", field, d))
		return 0
	}
	return v
}

// required is parse for a field that must be set when its parent is.
func (p *durations) required(field string, d resource.Duration) time.Duration {
	if d == "" {
		p.problems = append(p.problems, fmt.Sprintf("%s is required; ignored", field))
	}
	return p.parse(field, d)
}

// newRoute resolves a Route's durations.
func newRoute(namespace, name string, spec *resource.RouteSpec) *Route {
	var p durations
	times := make([]RuleTimes, len(spec.Rules))
	for i, rule := range spec.Rules {
		at := func(field string) string { return fmt.Sprintf("rules[%d].%s", i, field) }
		t := &times[i]
		t.Timeout = p.parse(at("timeout"), rule.Timeout)
		t.IdleTimeout = p.parse(at("idleTimeout"), rule.IdleTimeout)
		if rp := rule.Retries; rp != nil {
			t.PerTryTimeout = p.parse(at("retries.perTryTimeout"), rp.PerTryTimeout)
			if b := rp.Backoff; b != nil {
				t.BackoffBase = p.parse(at("retries.backoff.base"), b.Base)
				t.BackoffMax = p.parse(at("retries.backoff.max"), b.Max)
			}
		}
		if f := rule.Fault; f != nil && f.Delay != nil {
			t.FaultDelay = p.required(at("fault.delay.fixed"), f.Delay.Fixed)
		}
		if rl := rule.RateLimit; rl != nil {
			t.FillInterval = p.parse(at("rateLimit.fillInterval"), rl.FillInterval)
		}
	}
	return &Route{Namespace: namespace, Name: name, Spec: spec, RuleTimes: times, Problems: p.problems}
}

// newTrafficPolicy resolves a TrafficPolicy's durations.
func newTrafficPolicy(namespace, name string, spec *resource.TrafficPolicySpec) *TrafficPolicy {
	var p durations
	var t PolicyTimes
	t.ConnectTimeout = p.parse("connectTimeout", spec.ConnectTimeout)
	if cp := spec.ConnectionPool; cp != nil && cp.TCPKeepalive != nil {
		t.KeepaliveTime = p.parse("connectionPool.tcpKeepalive.time", cp.TCPKeepalive.Time)
		t.KeepaliveInterval = p.parse("connectionPool.tcpKeepalive.interval", cp.TCPKeepalive.Interval)
	}
	if od := spec.OutlierDetection; od != nil {
		t.OutlierInterval = p.parse("outlierDetection.interval", od.Interval)
		t.BaseEjectionTime = p.parse("outlierDetection.baseEjectionTime", od.BaseEjectionTime)
	}
	if hc := spec.HealthCheck; hc != nil {
		t.HealthInterval = p.parse("healthCheck.interval", hc.Interval)
		t.HealthTimeout = p.parse("healthCheck.timeout", hc.Timeout)
	}
	if lb := spec.LoadBalancer; lb != nil && lb.HashCookie != nil {
		t.HashCookieTTL = p.parse("loadBalancer.hashCookie.ttl", lb.HashCookie.TTL)
	}
	if rl := spec.RateLimit; rl != nil {
		t.FillInterval = p.parse("rateLimit.fillInterval", rl.FillInterval)
	}
	return &TrafficPolicy{Namespace: namespace, Name: name, Spec: spec, Times: t, Problems: p.problems}
}
