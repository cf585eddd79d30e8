package resource

import (
	"strconv"
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
	catchAll := -1
	for i := range s.Rules {
		p := index("spec.rules", i)
		v.routeRule(p, &s.Rules[i])
		if catchAll >= 0 {
			v.errorf(p, "is never reached: rule %s before it matches every request (first match wins); move this rule above it or narrow that rule's matches", ruleName(catchAll, s.Rules[catchAll]))
		} else if matchesEverything(s.Rules[i]) {
			catchAll = i
		}
	}
}

// matchesEverything reports whether a rule takes every request: it has no
// matches, or one that asks only for the path prefix "/".
func matchesEverything(r RouteRule) bool {
	if len(r.Matches) == 0 {
		return true
	}
	for _, m := range r.Matches {
		anyPath := m.Path == nil || (m.Path.Prefix == "/" && m.Path.Exact == "" && m.Path.Regex == "")
		if anyPath && len(m.Headers) == 0 && len(m.QueryParams) == 0 && m.Method == "" && m.GRPC == nil {
			return true
		}
	}
	return false
}

// ruleName names a rule in a message: its name, or its index.
func ruleName(i int, r RouteRule) string {
	if r.Name != "" {
		return strconv.Quote(r.Name)
	}
	return index("spec.rules", i)
}

// routeRule checks one rule: its matches, where it sends requests, and
// what it does on the way.
func (v *validator) routeRule(path string, r *RouteRule) {
	for i, m := range r.Matches {
		v.routeMatch(index(path+".matches", i), m)
	}
	timeout, hasTimeout := v.duration(path+".timeout", r.Timeout)
	v.duration(path+".idleTimeout", r.IdleTimeout)
	if !v.ruleAnswers(path, r) {
		v.backends(path+".backends", r.Backends)
	}
	if r.Retries != nil {
		v.retries(path+".retries", r.Retries, timeout, hasTimeout)
	}
	if r.Fault != nil {
		v.fault(path+".fault", r.Fault)
	}
	if r.Mirror != nil {
		v.dnsLabel(path+".mirror.service", r.Mirror.Service, false)
		v.percent(path+".mirror.percent", r.Mirror.Percent)
	}
	v.headerEdits(path+".requestHeaders", r.RequestHeaders)
	v.headerEdits(path+".responseHeaders", r.ResponseHeaders)
	if r.Rewrite != nil {
		v.rewrite(path+".rewrite", r.Rewrite)
	}
	if r.RateLimit != nil {
		v.rateLimit(path+".rateLimit", r.RateLimit)
	}
}

// ruleAnswers checks a rule that answers itself, with a redirect or a
// direct response, and reports whether it does. Such a rule forwards
// nothing, so the settings of forwarding contradict it.
func (v *validator) ruleAnswers(path string, r *RouteRule) bool {
	var field string
	switch {
	case r.Redirect != nil && r.DirectResponse != nil:
		v.errorf(path, "set at most one of redirect and directResponse")
		return true
	case r.Redirect != nil:
		field = "redirect"
		v.redirect(path+".redirect", r.Redirect)
	case r.DirectResponse != nil:
		field = "directResponse"
		v.directResponse(path+".directResponse", r.DirectResponse)
	default:
		return false
	}
	forwarding := []struct {
		name string
		set  bool
	}{
		{"backends", len(r.Backends) > 0},
		{"timeout", r.Timeout != ""},
		{"idleTimeout", r.IdleTimeout != ""},
		{"retries", r.Retries != nil},
		{"mirror", r.Mirror != nil},
		{"rewrite", r.Rewrite != nil},
		{"requestHeaders", r.RequestHeaders != nil},
	}
	for _, f := range forwarding {
		if f.set {
			v.errorf(path+"."+f.name, "cannot be combined with %s: a rule with %s answers itself and forwards nothing", field, field)
		}
	}
	return true
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
	for i, c := range r.RetriableStatusCodes {
		if c < 100 || c > 599 {
			v.errorf(index(path+".retriableStatusCodes", i), "must be an HTTP status from 100 to 599, got %d", c)
		}
	}
	if b := r.Backoff; b != nil {
		base, hasBase := v.duration(path+".backoff.base", b.Base)
		if b.Base == "" {
			v.errorf(path+".backoff.base", "required: the first retry's delay")
		}
		if maxD, ok := v.duration(path+".backoff.max", b.Max); ok && hasBase && maxD < base {
			v.errorf(path+".backoff.max", "must be at least base %s, got %s", string(b.Base), string(b.Max))
		}
	}
}
