package bootstrap

import (
	"encoding/json"
	"fmt"
	"path"

	"embassy.dev/embassy/pkg/dataplane"
)

// GRPCOptions describe one proxyless gRPC application.
type GRPCOptions struct {
	// NodeID identifies the application to the control plane.
	NodeID string
	// XDSAddress is embassy-cp's xDS host:port (default
	// dataplane.DefaultXDSAddress), or several, comma-separated, for
	// replicas: each is an xds_servers entry, in the order given.
	// gRPC-Go uses them as fallback in order (gRFC A71): it moves to the
	// next only when its stream fails before a first response while some
	// resource it watches is not cached yet; a client that holds its
	// configuration keeps it and keeps retrying the server it had.
	XDSAddress string
	// Metadata is added to the node metadata beside dataplane.FlavourKey.
	Metadata map[string]string
	// CertDir is the agent's directory holding the workload's PEM files.
	// When set, the xDS stream is mTLS with them (unless Insecure). The
	// certificate provider that xDS security configs name reads them from
	// CertDir, or dataplane.SocketDir(NodeID) when it is empty.
	CertDir string
	// Insecure keeps the xDS stream plaintext even with CertDir set, for a
	// control plane run with --insecure-xds.
	Insecure bool
	// XDSRelayDir, when set, is the agent's socket directory (absolute):
	// the one xds_server is the agent's relay socket there, which carries
	// the stream to whichever replica answers (embassy-agent --cp A,B,C),
	// so the client follows a replica's death as its agent does.
	// XDSAddress and Insecure are then not used: the socket is local and
	// open only to the agent's group, so its channel is plaintext, and
	// the relay presents the workload's SVID upstream. The certificate
	// provider reads the PEM files there unless CertDir says otherwise.
	XDSRelayDir string
}

// maxUnixPath is the longest unix socket path Linux accepts (sun_path
// holds 108 bytes with the terminating NUL).
const maxUnixPath = 107

// ignoreResourceDeletion keeps a client serving with the last Listener it
// saw when the control plane stops sending it (a restart, a bad apply),
// instead of failing every RPC with "has been removed".
const ignoreResourceDeletion = "ignore_resource_deletion"

// grpcBootstrap is the JSON grpc-go reads from GRPC_XDS_BOOTSTRAP.
type grpcBootstrap struct {
	XDSServers                 []xdsServer `json:"xds_servers"`
	Node                       grpcNode    `json:"node"`
	ServerListenerResourceName string      `json:"server_listener_resource_name_template"`
	// CertificateProviders always holds dataplane.CertificateProvider: gRPC NACKs a
	// Cluster or Listener naming a provider instance its bootstrap lacks,
	// even when the application does not use xDS credentials, so an mTLS
	// mesh would otherwise be unusable by a client without them.
	CertificateProviders map[string]certificateProvider `json:"certificate_providers"`
}

type certificateProvider struct {
	PluginName string `json:"plugin_name"`
	Config     any    `json:"config"`
}

type xdsServer struct {
	ServerURI      string         `json:"server_uri"`
	ChannelCreds   []channelCreds `json:"channel_creds"`
	ServerFeatures []string       `json:"server_features"`
}

type channelCreds struct {
	Type   string `json:"type"`
	Config any    `json:"config,omitempty"`
}

type grpcNode struct {
	ID       string         `json:"id"`
	Metadata map[string]any `json:"metadata"`
}

// GRPCJSON returns the xDS bootstrap of one proxyless gRPC application, for
// the GRPC_XDS_BOOTSTRAP file or GRPC_XDS_BOOTSTRAP_CONFIG. Without
// CertDir there is no certificate to present, so the xDS stream is
// plaintext, as it is with Insecure.
func GRPCJSON(o GRPCOptions) ([]byte, error) {
	if o.NodeID == "" {
		return nil, fmt.Errorf("node id is empty")
	}
	servers, err := grpcXDSServers(o)
	if err != nil {
		return nil, err
	}
	meta, err := nodeMetadata(dataplane.FlavourProxyless, o.Metadata)
	if err != nil {
		return nil, err
	}
	certDir := orDefault(o.CertDir, orDefault(o.XDSRelayDir, dataplane.SocketDir(o.NodeID)))
	b := grpcBootstrap{
		XDSServers:                 servers,
		Node:                       grpcNode{ID: o.NodeID, Metadata: meta},
		ServerListenerResourceName: dataplane.ServerListenerTemplate,
		CertificateProviders: map[string]certificateProvider{dataplane.CertificateProvider: {
			PluginName: "file_watcher",
			Config:     fileWatcherConfig(certDir),
		}},
	}
	out, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// grpcXDSServers is one xds_servers entry per replica, or the agent's
// relay socket alone.
func grpcXDSServers(o GRPCOptions) ([]xdsServer, error) {
	if o.XDSRelayDir != "" {
		sock := path.Join(o.XDSRelayDir, dataplane.XDSRelaySocket)
		switch {
		case !path.IsAbs(o.XDSRelayDir):
			return nil, fmt.Errorf("xds relay directory %q: want the agent's socket directory as an absolute path, such as %s", o.XDSRelayDir, dataplane.SocketDir(o.NodeID))
		case len(sock) > maxUnixPath:
			return nil, fmt.Errorf("xds relay socket %s: %d bytes, longer than the %d a unix socket path may have; give the agent a shorter --socket-dir", sock, len(sock), maxUnixPath)
		}
		return []xdsServer{{
			ServerURI:      "unix://" + sock,
			ChannelCreds:   []channelCreds{{Type: "insecure"}},
			ServerFeatures: []string{ignoreResourceDeletion},
		}}, nil
	}
	addrs, err := parseHostPorts("xds address", orDefault(o.XDSAddress, dataplane.DefaultXDSAddress))
	if err != nil {
		return nil, err
	}
	var servers []xdsServer
	for _, a := range addrs {
		servers = append(servers, xdsServer{
			ServerURI:      a.String(),
			ChannelCreds:   grpcChannelCreds(o.CertDir, o.Insecure || o.CertDir == ""),
			ServerFeatures: []string{ignoreResourceDeletion},
		})
	}
	return servers, nil
}
