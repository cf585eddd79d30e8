package translate

import (
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"embassy.dev/embassy/pkg/resource"
)

// Health check defaults: one success makes an endpoint healthy, three
// failures in a row unhealthy.
const (
	defaultHealthyThreshold   = 1
	defaultUnhealthyThreshold = 3
	defaultHealthInterval     = 10 * time.Second
	defaultHealthTimeout      = time.Second
)

// healthChecks builds a cluster's active health check: an HTTP GET of a
// path (over HTTP/2 for http2 and grpc ports), grpc.health.v1 Check, or a
// bare TCP connect. gRPC does no active health checking, so proxyless
// clusters get none and a Diagnostic.
func (t *translator) healthChecks(ts trafficSettings, c clusterRef) []*core.HealthCheck {
	if ts.policy == nil || ts.policy.Spec.HealthCheck == nil {
		return nil
	}
	hc := ts.policy.Spec.HealthCheck
	if t.flavour == Proxyless {
		t.diag(resource.KindTrafficPolicy, ts.policy.Namespace, ts.policy.Name, "healthCheck is not supported by proxyless gRPC; it applies to Envoy sidecars only")
		return nil
	}
	out := &core.HealthCheck{
		Interval:           orDefault(hc.Interval, defaultHealthInterval),
		Timeout:            orDefault(hc.Timeout, defaultHealthTimeout),
		HealthyThreshold:   wrapperspb.UInt32(orDefaultUInt32(hc.HealthyThreshold, defaultHealthyThreshold)),
		UnhealthyThreshold: wrapperspb.UInt32(orDefaultUInt32(hc.UnhealthyThreshold, defaultUnhealthyThreshold)),
	}
	switch {
	case hc.HTTP != nil:
		h := &core.HealthCheck_HttpHealthCheck{Path: hc.HTTP.Path}
		if usesHTTP2(c.port.Protocol) {
			h.CodecClientType = typev3.CodecClientType_HTTP2
		}
		out.HealthChecker = &core.HealthCheck_HttpHealthCheck_{HttpHealthCheck: h}
	case hc.GRPC != nil:
		out.HealthChecker = &core.HealthCheck_GrpcHealthCheck_{GrpcHealthCheck: &core.HealthCheck_GrpcHealthCheck{ServiceName: hc.GRPC.Service}}
	default:
		out.HealthChecker = &core.HealthCheck_TcpHealthCheck_{TcpHealthCheck: &core.HealthCheck_TcpHealthCheck{}}
	}
	return []*core.HealthCheck{out}
}

func orDefault(d resource.Duration, def time.Duration) *durationpb.Duration {
	if p := positiveDuration(d); p != nil {
		return p
	}
	return durationpb.New(def)
}

func orDefaultUInt32(v, def uint32) uint32 {
	if v == 0 {
		return def
	}
	return v
}
