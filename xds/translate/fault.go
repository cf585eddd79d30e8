package translate

import (
	"time"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	commonfault "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/common/fault/v3"
	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// faultFilterName is the fault filter's name, also the key of its per-route
// configuration. gRPC implements it too.
const faultFilterName = "envoy.filters.http.fault"

// faultFilter is the fault filter of an outbound HCM. Its own config is
// empty, so it injects nothing; a route with a fault overrides it. Being
// always present, adding a fault changes a route, never a listener.
func faultFilter() *hcm.HttpFilter {
	return &hcm.HttpFilter{Name: faultFilterName, ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: toAny(&faultv3.HTTPFault{})}}
}

// httpFault builds a rule's fault: a fixed delay and an abort with an HTTP
// or gRPC status, each on a share of the requests carrying the headers.
// A delay the model could not resolve is left out; the model's Problems
// say why.
func (t *translator) httpFault(r *mesh.Route, f *resource.Fault, fixed time.Duration) *faultv3.HTTPFault {
	out := &faultv3.HTTPFault{}
	if d := f.Delay; d != nil && fixed > 0 {
		out.Delay = &commonfault.FaultDelay{
			FaultDelaySecifier: &commonfault.FaultDelay_FixedDelay{FixedDelay: durationpb.New(fixed)},
			Percentage:         fractionalPercent(d.Percent),
		}
	}
	if a := f.Abort; a != nil {
		out.Abort = &faultv3.FaultAbort{Percentage: fractionalPercent(a.Percent)}
		switch {
		case a.HTTPStatus != 0:
			out.Abort.ErrorType = &faultv3.FaultAbort_HttpStatus{HttpStatus: a.HTTPStatus}
		default:
			code, ok := resource.ParseGRPCStatus(a.GRPCStatus)
			if !ok || code == 0 {
				t.diag(resource.KindRoute, r.Namespace, r.Name, "fault abort status %q is not a gRPC error status; no abort", a.GRPCStatus)
				out.Abort = nil
				break
			}
			out.Abort.ErrorType = &faultv3.FaultAbort_GrpcStatus{GrpcStatus: code}
		}
	}
	// gRPC's fault filter ignores HTTPFault.headers; proxyless routes carry
	// the condition in their match instead (see splitHeaderFault).
	if t.flavour != Proxyless {
		for _, h := range f.Headers {
			out.Headers = append(out.Headers, headerMatcher(h))
		}
	}
	return out
}

// splitHeaderFault returns the routes of one match. For proxyless gRPC, a
// fault limited to requests with some headers becomes two routes: the
// match plus those headers with the fault, then the match alone without
// it, because gRPC's fault filter never reads HTTPFault.headers and would
// fault every request.
func (t *translator) splitHeaderFault(rt *route.Route, rule resource.RouteRule) []*route.Route {
	if t.flavour != Proxyless || rule.Fault == nil || len(rule.Fault.Headers) == 0 || rt.GetTypedPerFilterConfig()[faultFilterName] == nil {
		return []*route.Route{rt}
	}
	plain := proto.Clone(rt).(*route.Route)
	delete(plain.TypedPerFilterConfig, faultFilterName)
	if len(plain.TypedPerFilterConfig) == 0 {
		plain.TypedPerFilterConfig = nil
	}
	for _, h := range rule.Fault.Headers {
		rt.Match.Headers = append(rt.Match.Headers, headerMatcher(h))
	}
	rt.Name += "/fault"
	return []*route.Route{rt, plain}
}

// perFilterConfig sets a route's overrides of the HCM's filters: its fault
// and, for Envoy, its rate limit.
func (t *translator) perFilterConfig(out *route.Route, r *mesh.Route, i int, rule resource.RouteRule) {
	cfg := map[string]*anypb.Any{}
	if rule.Fault != nil {
		cfg[faultFilterName] = toAny(t.httpFault(r, rule.Fault, r.Times(i).FaultDelay))
	}
	if rl := rule.RateLimit; rl != nil {
		if t.flavour == Proxyless {
			t.diag(resource.KindRoute, r.Namespace, r.Name, "rule %s: rateLimit is not supported by proxyless gRPC; it applies to Envoy sidecars only", ruleLabel(i, rule))
		} else if lr := t.localRateLimit(resource.KindRoute, r.Namespace, r.Name, rl, r.Times(i).FillInterval); lr != nil {
			cfg[localRateLimitName] = toAny(lr)
		}
	}
	if len(cfg) > 0 {
		out.TypedPerFilterConfig = cfg
	}
}
