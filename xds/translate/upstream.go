package translate

import (
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"embassy.dev/embassy/pkg/resource"
)

// wantsHTTP2 reports whether Envoy must speak HTTP/2 to a cluster: for
// http2 and grpc ports always, for http ports when the TrafficPolicy's
// connectionPool asks. gRPC always speaks HTTP/2 and reads no protocol
// options.
func wantsHTTP2(ts trafficSettings, c clusterRef) bool {
	if usesHTTP2(c.port.Protocol) {
		return true
	}
	return ts.policy != nil && ts.policy.Spec.ConnectionPool != nil && ts.policy.Spec.ConnectionPool.HTTP2
}

// upstreamConnectionOptions turns on TCP keepalive on connections to the
// endpoints; Envoy counts its times in whole seconds. gRPC does not read
// it, so proxyless clusters leave it out and get a Diagnostic.
func (t *translator) upstreamConnectionOptions(ts trafficSettings) *cluster.UpstreamConnectionOptions {
	if ts.policy == nil || ts.policy.Spec.ConnectionPool == nil || ts.policy.Spec.ConnectionPool.TCPKeepalive == nil {
		return nil
	}
	ka := ts.policy.Spec.ConnectionPool.TCPKeepalive
	if t.flavour == Proxyless {
		t.diag(resource.KindTrafficPolicy, ts.policy.Namespace, ts.policy.Name, "connectionPool.tcpKeepalive is not supported by proxyless gRPC; it applies to Envoy sidecars only")
		return nil
	}
	return &cluster.UpstreamConnectionOptions{TcpKeepalive: &core.TcpKeepalive{
		KeepaliveProbes:   optUInt32(ka.Probes),
		KeepaliveTime:     seconds(ts.policy.Times.KeepaliveTime),
		KeepaliveInterval: seconds(ts.policy.Times.KeepaliveInterval),
	}}
}

// seconds renders a duration in whole seconds, or nil when unset.
func seconds(v time.Duration) *wrapperspb.UInt32Value {
	if v < time.Second {
		return nil
	}
	return wrapperspb.UInt32(uint32(v / time.Second))
}
