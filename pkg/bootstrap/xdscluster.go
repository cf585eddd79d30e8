package bootstrap

import (
	"fmt"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"embassy.dev/embassy/pkg/dataplane"
)

// httpProtocolOptionsKey is the extension name Envoy looks up in
// typed_extension_protocol_options for upstream HTTP settings.
const httpProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

// xdsCluster reaches embassy-cp's xDS endpoint, spoken to over HTTP/2
// because xDS is gRPC, and secured by ts (nil for plaintext).
func xdsCluster(addrs []hostPort, ts *corev3.TransportSocket) *clusterv3.Cluster {
	// IPs need no resolver; a name (a Kubernetes Service, a DNS record
	// in front of several control planes) is re-resolved so a moved
	// control plane is found again.
	discovery := clusterv3.Cluster_STATIC
	var eps []*endpointv3.LbEndpoint
	for _, a := range addrs {
		if !a.ip.IsValid() {
			discovery = clusterv3.Cluster_STRICT_DNS
		}
		eps = append(eps, &endpointv3.LbEndpoint{
			HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: socketAddress(a)}},
		})
	}
	return &clusterv3.Cluster{
		Name:                 dataplane.XDSClusterName,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: discovery},
		ConnectTimeout:       durationpb.New(xdsConnectTimeout),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: dataplane.XDSClusterName,
			Endpoints:   []*endpointv3.LocalityLbEndpoints{{LbEndpoints: eps}},
		},
		TypedExtensionProtocolOptions: map[string]*anypb.Any{httpProtocolOptionsKey: http2Options()},
		TransportSocket:               ts,
	}
}

// http2Options forces HTTP/2 upstream, which gRPC requires.
func http2Options() *anypb.Any {
	opts := &httpv3.HttpProtocolOptions{
		UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{
			ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
					Http2ProtocolOptions: &corev3.Http2ProtocolOptions{},
				},
			},
		},
	}
	a, err := anypb.New(opts)
	if err != nil {
		// Marshalling a well-formed generated message cannot fail.
		panic(fmt.Sprintf("bootstrap: marshal HttpProtocolOptions: %v", err))
	}
	return a
}
