package bootstrap

import (
	"fmt"
	"path"
	"sort"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"sigs.k8s.io/yaml"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/resource"
)

// EnvoyOptions describe one Envoy sidecar.
type EnvoyOptions struct {
	// NodeID is "<workload>.<namespace>", both DNS-1123 labels.
	NodeID string
	// XDSAddress is embassy-cp's xDS host:port (default
	// dataplane.DefaultXDSAddress), or several, comma-separated, for
	// replicas: each is an endpoint of the xDS cluster, and Envoy opens its
	// ADS stream again to another when its replica goes. IPs only make the
	// xDS cluster STATIC; a host name among them makes it STRICT_DNS.
	XDSAddress string
	// AdminAddress is the admin API's loopback ip:port. Empty, the admin
	// API is the unix socket AdminSocket in SocketDir, mode 0600. The admin
	// API can stop the proxy and dump its secrets, so anything but
	// loopback is refused; a port must be one no app, Workload or tcp
	// service of the node uses.
	AdminAddress string
	// Metadata is added to the node metadata beside dataplane.FlavourKey.
	Metadata map[string]string
	// SocketDir is the agent's directory holding its SDS and ext_authz
	// sockets (default dataplane.SocketDir(NodeID)).
	SocketDir string
	// TrustDomain is the mesh's trust domain: the xDS stream accepts only
	// embassy-cp's SPIFFE ID in it. It is required unless Insecure, since
	// a guessed one makes a sidecar that never connects; ask the control
	// plane (GET /v1/status) for it.
	TrustDomain string
	// Insecure keeps the xDS stream plaintext, for a control plane run
	// with --insecure-xds. By default it is mTLS with the workload's
	// certificate from the agent.
	Insecure bool
}

// Envoy returns the bootstrap of one Envoy sidecar: who it is, an ADS
// stream to embassy-cp for listeners and clusters (mTLS unless Insecure),
// the agent's SDS socket for certificates, and a loopback admin API.
func Envoy(o EnvoyOptions) (*bootstrapv3.Bootstrap, error) {
	_, namespace, err := dataplane.ParseNodeID(o.NodeID)
	if err != nil {
		return nil, err
	}
	xdsAddrs, err := parseHostPorts("xds address", orDefault(o.XDSAddress, dataplane.DefaultXDSAddress))
	if err != nil {
		return nil, err
	}
	socketDir := orDefault(o.SocketDir, dataplane.SocketDir(o.NodeID))
	admin, err := envoyAdmin(o.AdminAddress, socketDir)
	if err != nil {
		return nil, err
	}
	meta, err := nodeMetadata(dataplane.FlavourEnvoy, o.Metadata)
	if err != nil {
		return nil, err
	}
	metaStruct, err := structpb.NewStruct(meta)
	if err != nil {
		return nil, fmt.Errorf("node metadata: %w", err)
	}
	if o.TrustDomain == "" && !o.Insecure {
		return nil, fmt.Errorf("envoy bootstrap for %s: the trust domain is empty: xDS accepts only embassy-cp's SPIFFE ID in the mesh's trust domain (GET /v1/status says it; embassyctl bootstrap envoy asks, or pass --trust-domain)", o.NodeID)
	}
	b := &bootstrapv3.Bootstrap{
		Node: &corev3.Node{
			Id: o.NodeID,
			// The namespace is the node's cluster so Envoy's stats and
			// access logs group sidecars the way operators think of them.
			Cluster:  namespace,
			Metadata: metaStruct,
		},
		DynamicResources: envoyDynamicResources(),
		StaticResources: &bootstrapv3.Bootstrap_StaticResources{
			Clusters: []*clusterv3.Cluster{
				xdsCluster(xdsAddrs, xdsTransportSocket(o.TrustDomain, o.Insecure)),
				sdsCluster(socketDir),
				authzCluster(socketDir),
			},
		},
		Admin: admin,
	}
	if err := b.ValidateAll(); err != nil {
		return nil, fmt.Errorf("envoy bootstrap for %s: %w", o.NodeID, err)
	}
	return b, nil
}

// EnvoyYAML returns Envoy(o) as YAML with the protos' field names, the form
// Envoy's documentation and `envoy -c` use.
func EnvoyYAML(o EnvoyOptions) ([]byte, error) {
	b, err := Envoy(o)
	if err != nil {
		return nil, err
	}
	js, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("envoy bootstrap to JSON: %w", err)
	}
	y, err := yaml.JSONToYAML(js)
	if err != nil {
		return nil, fmt.Errorf("envoy bootstrap to YAML: %w", err)
	}
	return y, nil
}

// envoyDynamicResources sends listeners and clusters (and through them
// routes, endpoints and secrets) over one ADS stream, so Envoy sees them in
// the order the control plane chose.
func envoyDynamicResources() *bootstrapv3.Bootstrap_DynamicResources {
	ads := func() *corev3.ConfigSource {
		return &corev3.ConfigSource{
			ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
			ResourceApiVersion:    corev3.ApiVersion_V3,
		}
	}
	return &bootstrapv3.Bootstrap_DynamicResources{
		AdsConfig: &corev3.ApiConfigSource{
			ApiType:             corev3.ApiConfigSource_GRPC,
			TransportApiVersion: corev3.ApiVersion_V3,
			GrpcServices: []*corev3.GrpcService{{
				TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{
					EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: dataplane.XDSClusterName},
				},
			}},
		},
		LdsConfig: ads(),
		CdsConfig: ads(),
	}
}

// adminSocketMode lets only the sidecar's own user open the admin socket.
const adminSocketMode = 0o600

// envoyAdmin serves the admin API on AdminSocket in socketDir, or on a
// loopback ip:port when addr is set, and refuses anything else: the admin
// API is unauthenticated and can quit the proxy.
func envoyAdmin(addr, socketDir string) (*bootstrapv3.Admin, error) {
	if addr == "" {
		return &bootstrapv3.Admin{Address: &corev3.Address{Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{
			Path: path.Join(socketDir, AdminSocket), Mode: adminSocketMode,
		}}}}, nil
	}
	hp, err := parseHostPort("admin address", addr)
	if err != nil {
		return nil, err
	}
	if !hp.ip.IsValid() || !hp.ip.IsLoopback() {
		return nil, fmt.Errorf("admin address %q: must be a loopback IP such as 127.0.0.1 (the admin API is unauthenticated), or empty for the socket %s in the agent's socket directory", addr, AdminSocket)
	}
	if hp.port == resource.SidecarOutboundPort {
		return nil, fmt.Errorf("admin address %q: port %d is the sidecar's outbound HTTP listener; pick another, or leave it empty for the socket %s", addr, hp.port, AdminSocket)
	}
	return &bootstrapv3.Admin{Address: socketAddress(hp)}, nil
}

// nodeMetadata merges the flavour with the caller's metadata. The flavour
// key is reserved: the control plane picks what to serve by it.
func nodeMetadata(flavour string, extra map[string]string) (map[string]any, error) {
	m := map[string]any{dataplane.FlavourKey: flavour}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == dataplane.FlavourKey {
			return nil, fmt.Errorf("node metadata: key %q is reserved", dataplane.FlavourKey)
		}
		if k == "" {
			return nil, fmt.Errorf("node metadata: empty key")
		}
		m[k] = extra[k]
	}
	return m, nil
}

// socketAddress is the Envoy form of a parsed host:port.
func socketAddress(hp hostPort) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Protocol:      corev3.SocketAddress_TCP,
		Address:       hp.host,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: hp.port},
	}}}
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
