package translate

import (
	"fmt"
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
// clusters get none and a Diagnostic. A check that cannot run on the
// cluster's port is left out with a Diagnostic (see healthCheckFits).
func (t *translator) healthChecks(ts trafficSettings, c clusterRef) []*core.HealthCheck {
	if ts.policy == nil || ts.policy.Spec.HealthCheck == nil {
		return nil
	}
	hc := ts.policy.Spec.HealthCheck
	if t.flavour == Proxyless {
		t.diag(resource.KindTrafficPolicy, ts.policy.Namespace, ts.policy.Name, "healthCheck is not supported by proxyless gRPC; it applies to Envoy sidecars only")
		return nil
	}
	if why := healthCheckFits(hc, ts, c); why != "" {
		t.diag(resource.KindTrafficPolicy, ts.policy.Namespace, ts.policy.Name, "healthCheck is not applied to %s port %s: %s", c.svc.Ref, c.port.Name, why)
		return nil
	}
	out := &core.HealthCheck{
		Interval:           orDefault(ts.policy.Times.HealthInterval, defaultHealthInterval),
		Timeout:            orDefault(ts.policy.Times.HealthTimeout, defaultHealthTimeout),
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

// healthCheckFits says why a check cannot run on a cluster's port, or "".
// A policy covers every port of its service, so a check written for one
// protocol is kept off the others rather than refused: the compatible
// ports keep their check and the Diagnostic names the rest.
//
// Envoy refuses a gRPC check on a cluster that does not speak HTTP/2
// ("cluster must support HTTP/2 for gRPC healthchecking",
// upstream/health_checker_impl.cc), which NACKs every cluster of the set.
// An HTTP check on a tcp port loads but fails every probe, so every host
// turns unhealthy and Envoy routes in panic mode.
func healthCheckFits(hc *resource.HealthCheck, ts trafficSettings, c clusterRef) string {
	switch {
	case hc.GRPC != nil && (!isHTTPFamily(c.port.Protocol) || !wantsHTTP2(ts, c)):
		return fmt.Sprintf("a grpc check needs a port that speaks HTTP/2 (grpc or http2), not %s", c.port.Protocol)
	case hc.HTTP != nil && !isHTTPFamily(c.port.Protocol):
		return fmt.Sprintf("an http check needs an HTTP port (http, http2 or grpc), not %s", c.port.Protocol)
	}
	return ""
}

func orDefault(d time.Duration, def time.Duration) *durationpb.Duration {
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
