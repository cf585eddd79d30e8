package agent

// The socket directory's layout. Envoy's bootstrap names SDSSocket and the
// two secrets; proxyless gRPC's file_watcher names the three PEM files; an
// application's SPIFFE library dials WorkloadSocket.
const (
	// SecretCert is the SDS secret holding the workload's certificate
	// chain and private key.
	SecretCert = "default"
	// SecretRootCA is the SDS secret holding the trust bundle.
	SecretRootCA = "ROOTCA"
	// SDSSocket is Envoy's secret discovery service (unix socket, 0660).
	SDSSocket = "sds.sock"
	// WorkloadSocket is the SPIFFE Workload API (unix socket, 0660).
	WorkloadSocket = "workload.sock"
	// CertFile is the X.509-SVID chain, leaf first (PEM).
	CertFile = "svid.pem"
	// KeyFile is the SVID's private key (PKCS #8 PEM, mode 0600).
	KeyFile = "svid-key.pem"
	// BundleFile is the trust domain's root certificates (PEM).
	BundleFile = "bundle.pem"
)

// socketMode lets the agent's group connect: put Envoy (and any
// application using the Workload API) in the agent's group. Other users
// cannot connect; the directory itself is created 0750.
const socketMode = 0o660
