package translate

import (
	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"embassy.dev/embassy/pkg/resource"
)

// circuitBreakers caps a cluster's connections, pending requests, requests
// and retries at the default priority; zero caps keep the proxy's default.
// gRPC reads only max_requests, so proxyless clusters carry only that, and
// a Diagnostic names the caps they ignore.
func (t *translator) circuitBreakers(ts trafficSettings) *cluster.CircuitBreakers {
	if ts.policy == nil || ts.policy.Spec.ConnectionPool == nil {
		return nil
	}
	cp := ts.policy.Spec.ConnectionPool
	th := &cluster.CircuitBreakers_Thresholds{Priority: core.RoutingPriority_DEFAULT, MaxRequests: optUInt32(cp.MaxRequests)}
	if t.flavour == Proxyless {
		if cp.MaxConnections != 0 || cp.MaxPendingRequests != 0 || cp.MaxRetries != 0 {
			t.diag(resource.KindTrafficPolicy, ts.policy.Namespace, ts.policy.Name, "connectionPool maxConnections, maxPendingRequests and maxRetries are not supported by proxyless gRPC, which caps only maxRequests")
		}
	} else {
		th.MaxConnections = optUInt32(cp.MaxConnections)
		th.MaxPendingRequests = optUInt32(cp.MaxPendingRequests)
		th.MaxRetries = optUInt32(cp.MaxRetries)
	}
	if th.MaxConnections == nil && th.MaxPendingRequests == nil && th.MaxRequests == nil && th.MaxRetries == nil {
		return nil
	}
	return &cluster.CircuitBreakers{Thresholds: []*cluster.CircuitBreakers_Thresholds{th}}
}

// optUInt32 wraps a value, leaving zero (unset) out.
func optUInt32(v uint32) *wrapperspb.UInt32Value {
	if v == 0 {
		return nil
	}
	return wrapperspb.UInt32(v)
}
