package resource

import (
	"strings"
	"time"
)

// RetryOnConditions are the retryOn values a Route may use: Envoy's retry
// conditions and the gRPC status codes that gRPC clients retry on.
var RetryOnConditions = []string{
	"5xx", "gateway-error", "reset", "connect-failure", "retriable-4xx", "refused-stream",
	"cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable",
}

// maxRetryAttempts bounds retries so one request cannot multiply into a
// retry storm.
const maxRetryAttempts = 10

// route checks a RouteSpec.
func (v *validator) route(s *RouteSpec) {
	v.dnsLabel("spec.service", s.Service, true)
	v.portRange("spec.port", s.Port, 0)
	if len(s.Rules) == 0 {
		v.errorf("spec.rules", "at least one rule is required")
	}
	for i := range s.Rules {
		v.routeRule(index("spec.rules", i), &s.Rules[i])
	}
}

// routeRule checks one rule's matches, backends, timeout and retries.
func (v *validator) routeRule(path string, r *RouteRule) {
	for i, m := range r.Matches {
		v.routeMatch(index(path+".matches", i), m)
	}
	v.backends(path+".backends", r.Backends)
	timeout, hasTimeout := v.duration(path+".timeout", r.Timeout)
	if r.Retries != nil {
		v.retries(path+".retries", r.Retries, timeout, hasTimeout)
	}
}

// routeMatch checks a path match and header matches.
func (v *validator) routeMatch(path string, m RouteMatch) {
	if p := m.Path; p != nil {
		switch {
		case (p.Exact == "") == (p.Prefix == ""):
			v.errorf(path+".path", "set exactly one of exact or prefix")
		case !strings.HasPrefix(p.Exact+p.Prefix, "/"):
			field := "exact"
			if p.Prefix != "" {
				field = "prefix"
			}
			v.errorf(path+".path."+field, "must start with '/', got %q", p.Exact+p.Prefix)
		}
	}
	for i, h := range m.Headers {
		hp := index(path+".headers", i)
		if h.Name == "" {
			v.errorf(hp+".name", "required")
		}
		if (h.Exact == "") == (h.Prefix == "") {
			v.errorf(hp, "set exactly one of exact or prefix")
		}
	}
}

// backends checks a rule's weighted destinations. A lone backend may leave
// its weight out; with several, an unset weight would make the split a
// guess, so every one must say.
func (v *validator) backends(path string, bs []Backend) {
	if len(bs) == 0 {
		v.errorf(path, "at least one backend is required")
		return
	}
	var total int64
	allSet, anyNegative := true, false
	for i, b := range bs {
		bp := index(path, i)
		v.dnsLabel(bp+".service", b.Service, false)
		switch {
		case b.Weight == nil:
			allSet = false
			if len(bs) > 1 {
				v.errorf(bp+".weight", "required when a rule has more than one backend")
			}
		case *b.Weight < 0:
			anyNegative = true
			v.errorf(bp+".weight", "must be >= 0, got %d", *b.Weight)
		default:
			total += int64(*b.Weight)
		}
	}
	if allSet && !anyNegative && total == 0 {
		v.errorf(path, "all weights are 0; at least one backend needs a weight > 0")
	}
}

// retries checks a retry policy; timeout is the rule's, when it has one.
func (v *validator) retries(path string, r *RetryPolicy, timeout time.Duration, hasTimeout bool) {
	if r.Attempts < 1 || r.Attempts > maxRetryAttempts {
		v.errorf(path+".attempts", "must be from 1 to %d, got %d", maxRetryAttempts, r.Attempts)
	}
	if perTry, ok := v.duration(path+".perTryTimeout", r.PerTryTimeout); ok && hasTimeout && perTry > timeout {
		v.errorf(path+".perTryTimeout", "must not exceed the rule's timeout %s, got %s", timeout, string(r.PerTryTimeout))
	}
	for i, c := range r.RetryOn {
		v.oneOf(index(path+".retryOn", i), c, true, RetryOnConditions...)
	}
}
