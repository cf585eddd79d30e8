package dataplane

import "path"

// SocketRoot holds one directory per workload, SocketDir(nodeID), where
// its agent keeps its sockets and PEM files by default.
const SocketRoot = "/run/embassy"

// The files of an agent's socket directory. Envoy's bootstrap names
// SDSSocket and AuthzSocket; proxyless gRPC's file_watcher names the three
// PEM files, and its relay bootstrap XDSRelaySocket; an application's
// SPIFFE library dials WorkloadSocket.
const (
	// SDSSocket is Envoy's secret discovery service (unix socket, 0660).
	SDSSocket = "sds.sock"
	// WorkloadSocket is the SPIFFE Workload API (unix socket, 0660).
	WorkloadSocket = "workload.sock"
	// AuthzSocket is the agent's ext_authz Check server (unix socket, 0660).
	AuthzSocket = "authz.sock"
	// XDSRelaySocket is the agent's ADS relay to the control plane, for
	// the workload's proxyless gRPC (unix socket, 0660).
	XDSRelaySocket = "xds.sock"
	// CertFile is the X.509-SVID chain, leaf first (PEM).
	CertFile = "svid.pem"
	// KeyFile is the SVID's private key (PKCS #8 PEM, mode 0600).
	KeyFile = "svid-key.pem"
	// BundleFile is the trust domain's root certificates (PEM).
	BundleFile = "bundle.pem"
)

// SocketDir is the default directory of a workload's agent sockets and PEM
// files: SocketRoot/<workload>.<namespace>, so two agents (and their
// sidecars) on one host never share a socket.
func SocketDir(nodeID string) string { return path.Join(SocketRoot, nodeID) }
