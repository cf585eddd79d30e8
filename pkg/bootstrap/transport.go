package bootstrap

import (
	"fmt"
	"path"
	"time"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/dataplane/sds"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// xdsConnectTimeout bounds one connection attempt to embassy-cp; Envoy
// retries with backoff, so a short value only makes recovery faster.
const xdsConnectTimeout = time.Second

// refreshInterval is how often gRPC's file watcher rereads the PEM files
// the agent rewrites at rotation.
const refreshInterval = "1s"

// xdsTransportSocket secures an Envoy sidecar's xDS stream with mTLS: it
// presents the workload's certificate and accepts only embassy-cp's SPIFFE
// ID, both certificate and trust bundle coming from the agent over SDS.
// insecure (for a control plane run with --insecure-xds) keeps it
// plaintext.
func xdsTransportSocket(trustDomain string, insecure bool) *corev3.TransportSocket {
	if insecure {
		return nil
	}
	san := []*tlsv3.SubjectAltNameMatcher{{
		SanType: tlsv3.SubjectAltNameMatcher_URI,
		Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: dataplane.ControlPlaneIDString(trustDomain)}},
	}}
	ctx := &tlsv3.UpstreamTlsContext{CommonTlsContext: sds.CommonTLSContext(san, []string{"h2"})}
	a, err := anypb.New(ctx)
	if err != nil {
		panic(fmt.Sprintf("bootstrap: marshal UpstreamTlsContext: %v", err))
	}
	return &corev3.TransportSocket{Name: wellknown.TransportSocketTLS, ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: a}}
}

// sdsCluster reaches the agent's SDS socket, over HTTP/2 since SDS is
// gRPC. Every sidecar has it, whatever the xDS stream's security: the
// listeners and clusters of an mTLS mesh name their secrets through it.
func sdsCluster(socketDir string) *clusterv3.Cluster {
	return agentCluster(dataplane.SDSClusterName, path.Join(socketDir, dataplane.SDSSocket))
}

// authzCluster reaches the agent's ext_authz server, over HTTP/2 since
// the check is gRPC. Every sidecar has it, so a policy that needs the
// agent to decide changes a listener and never the bootstrap.
func authzCluster(socketDir string) *clusterv3.Cluster {
	return agentCluster(dataplane.AuthzClusterName, path.Join(socketDir, dataplane.AuthzSocket))
}

// agentCluster is a static HTTP/2 cluster on one of the agent's sockets.
func agentCluster(name, socket string) *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		ConnectTimeout:       durationpb.New(xdsConnectTimeout),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: name,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{
				LbEndpoints: []*endpointv3.LbEndpoint{{
					HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
						Address: &corev3.Address{Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: socket}}},
					}},
				}},
			}},
		},
		TypedExtensionProtocolOptions: map[string]*anypb.Any{httpProtocolOptionsKey: http2Options()},
	}
}

// grpcChannelCreds is how a proxyless gRPC application secures its xDS
// stream, in the bootstrap's channel_creds form: grpc-go's "tls" creds
// with the agent's PEM files (mTLS; the control plane's certificate is
// checked against the trust bundle and the server_uri's host), or
// "insecure".
func grpcChannelCreds(certDir string, insecure bool) []channelCreds {
	if insecure {
		return []channelCreds{{Type: "insecure"}}
	}
	return []channelCreds{{Type: "tls", Config: fileWatcherConfig(certDir)}}
}

// fileWatcherConfig is the config of grpc-go's file_watcher certificate
// provider, which the tls channel creds share.
func fileWatcherConfig(dir string) map[string]string {
	return map[string]string{
		"certificate_file":    path.Join(dir, dataplane.CertFile),
		"private_key_file":    path.Join(dir, dataplane.KeyFile),
		"ca_certificate_file": path.Join(dir, dataplane.BundleFile),
		"refresh_interval":    refreshInterval,
	}
}
