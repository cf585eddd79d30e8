package translate

import (
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"embassy.dev/embassy/pkg/resource"
)

// outlierDetection ejects endpoints after consecutive 5xx or gateway
// errors, each only when the policy sets it. Success-rate ejection, on by default in Envoy and gRPC, is turned
// off (enforcing_success_rate 0) so only what the policy asks for ejects.
// gRPC ejects only by success rate or failure percentage, so proxyless
// clients get the same settings, which eject nothing there, and a
// Diagnostic.
func (t *translator) outlierDetection(ts trafficSettings) *cluster.OutlierDetection {
	if ts.policy == nil || ts.policy.Spec.OutlierDetection == nil {
		return nil
	}
	od := ts.policy.Spec.OutlierDetection
	if t.flavour == Proxyless {
		t.diag(resource.KindTrafficPolicy, ts.policy.Namespace, ts.policy.Name, "outlierDetection consecutive5xx and consecutiveGatewayErrors are not supported by proxyless gRPC, which ejects only by success rate or failure percentage")
	}
	out := &cluster.OutlierDetection{
		Consecutive_5Xx:      optUInt32(od.Consecutive5xx),
		Interval:             positiveDuration(ts.policy.Times.OutlierInterval),
		BaseEjectionTime:     positiveDuration(ts.policy.Times.BaseEjectionTime),
		EnforcingSuccessRate: wrapperspb.UInt32(0),
	}
	if od.Consecutive5xx == 0 {
		// Envoy ejects after 5 consecutive 5xx when consecutive_5xx is
		// unset (outlier_detection_impl.cc defaults it to 5, enforced at
		// 100%), so a policy asking only for gateway errors would also
		// eject on application 5xx.
		out.EnforcingConsecutive_5Xx = wrapperspb.UInt32(0)
	}
	if od.ConsecutiveGatewayErrors != 0 {
		out.ConsecutiveGatewayFailure = wrapperspb.UInt32(od.ConsecutiveGatewayErrors)
		// Envoy counts gateway failures but enforces none by default.
		out.EnforcingConsecutiveGatewayFailure = wrapperspb.UInt32(100)
	}
	if od.MaxEjectionPercent != 0 {
		out.MaxEjectionPercent = wrapperspb.UInt32(min(od.MaxEjectionPercent, 100))
	}
	return out
}

// positiveDuration renders a resolved duration, or nil when it is unset.
func positiveDuration(v time.Duration) *durationpb.Duration {
	if v <= 0 {
		return nil
	}
	return durationpb.New(v)
}
