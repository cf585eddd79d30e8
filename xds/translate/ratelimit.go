package translate

import (
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	localrl "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// localRateLimitName is the local rate limit filter's name and the key of
// its per-route configuration. gRPC has no such filter, and refuses an HCM
// naming a filter it does not know, so it is only ever given to Envoy.
const localRateLimitName = "envoy.filters.http.local_ratelimit"

// rateLimitStatPrefix prefixes the filter's stats.
const rateLimitStatPrefix = "http_local_rate_limiter"

// defaultRateLimitStatus answers limited requests when a limit names none.
const defaultRateLimitStatus = 429

// disabledLocalRateLimitFilter is the outbound HCM's rate limit filter: with
// no token bucket and filter_enabled unset it limits nothing, and a route
// with a rateLimit turns it on for itself.
func disabledLocalRateLimitFilter() *hcm.HttpFilter {
	return localRateLimitFilter(&localrl.LocalRateLimit{StatPrefix: rateLimitStatPrefix})
}

// localRateLimitFilter wraps a rate limit as an HTTP filter.
func localRateLimitFilter(lr *localrl.LocalRateLimit) *hcm.HttpFilter {
	return &hcm.HttpFilter{Name: localRateLimitName, ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: toAny(lr)}}
}

// localRateLimit builds an enabled and enforced token bucket, or nil (with
// a diagnostic against the resource) when its interval is unusable.
func (t *translator) localRateLimit(kind resource.Kind, namespace, name string, rl *resource.RateLimit, fill time.Duration) *localrl.LocalRateLimit {
	if fill < resource.MinFillInterval || rl.MaxTokens == 0 {
		t.diag(kind, namespace, name, "rateLimit needs maxTokens >= 1 and a fillInterval of at least %s; no limit applied", resource.MinFillInterval)
		return nil
	}
	bucket := &typev3.TokenBucket{MaxTokens: rl.MaxTokens, FillInterval: durationpb.New(fill)}
	if rl.TokensPerFill != 0 {
		bucket.TokensPerFill = wrapperspb.UInt32(rl.TokensPerFill)
	}
	status := rl.Status
	if status == 0 {
		status = defaultRateLimitStatus
	}
	return &localrl.LocalRateLimit{
		StatPrefix:           rateLimitStatPrefix,
		Status:               &typev3.HttpStatus{Code: typev3.StatusCode(status)},
		TokenBucket:          bucket,
		FilterEnabled:        runtimeFraction(100),
		FilterEnforced:       runtimeFraction(100),
		ResponseHeadersToAdd: headerOptions(rl.ResponseHeaders, core.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD),
	}
}

// inboundRateLimits puts the rate limit of each service's TrafficPolicy in
// front of the router of the inbound HCMs serving that service, so every
// endpoint's sidecar admits at most that rate.
func (t *translator) inboundRateLimits(w *mesh.Workload, res *Resources) {
	limits := map[string]*localrl.LocalRateLimit{}
	for _, ip := range t.inboundPorts(w) {
		tp := t.s.TrafficPolicyFor(ip.svc.Ref)
		if tp == nil || tp.Spec.RateLimit == nil || !isHTTPFamily(ip.port.Protocol) {
			continue
		}
		if lr := t.localRateLimit(resource.KindTrafficPolicy, tp.Namespace, tp.Name, tp.Spec.RateLimit, tp.Times.FillInterval); lr != nil {
			limits[inboundName(ip.listen)] = lr
		}
	}
	for _, l := range res.Listeners {
		lr, ok := limits[l.GetName()]
		if !ok {
			continue
		}
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				addHTTPFilter(f, localRateLimitFilter(lr))
			}
		}
	}
}

// addHTTPFilter inserts an HTTP filter before the router of an HCM
// network filter; other network filters are left alone.
func addHTTPFilter(f *listener.Filter, hf *hcm.HttpFilter) {
	if f.GetName() != httpConnectionManagerFilter {
		return
	}
	h := &hcm.HttpConnectionManager{}
	if err := f.GetTypedConfig().UnmarshalTo(h); err != nil {
		return // built here; cannot fail
	}
	n := len(h.HttpFilters)
	h.HttpFilters = append(h.HttpFilters[:n-1:n-1], hf, h.HttpFilters[n-1])
	f.ConfigType = &listener.Filter_TypedConfig{TypedConfig: toAny(h)}
}
