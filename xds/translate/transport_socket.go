package translate

import (
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// upstreamTransportSocket decides how a sidecar or proxyless client speaks
// to a cluster's endpoints. Everything is plaintext until workload identity
// lands; keeping the decision here means mTLS is added in one place.
func upstreamTransportSocket(clusterRef) *core.TransportSocket { return nil }

// downstreamTransportSocket decides how an inbound listener of a workload
// accepts mesh traffic; plaintext for now, like the upstream side.
func downstreamTransportSocket(*inboundPort) *core.TransportSocket { return nil }
