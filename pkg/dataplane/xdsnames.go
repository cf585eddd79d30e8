package dataplane

// The SDS secrets the agent serves, which listeners, clusters and the
// bootstrap's xDS cluster name without the control plane serving them.
const (
	// SecretCert is the SDS secret holding the workload's certificate
	// chain and private key.
	SecretCert = "default"
	// SecretRootCA is the SDS secret holding the trust bundle.
	SecretRootCA = "ROOTCA"
)

// SDSSecretNames lists the SDS secrets a translated set may name without
// serving them: the agent beside each sidecar serves both.
func SDSSecretNames() []string { return []string{SecretCert, SecretRootCA} }

// The static clusters every sidecar's bootstrap holds, reaching the
// agent's sockets; the translator's TLS contexts and ext_authz filter
// name them.
const (
	// XDSClusterName is the static cluster of an Envoy bootstrap that
	// reaches embassy-cp.
	XDSClusterName = "embassy_xds"
	// SDSClusterName reaches the agent's SDSSocket.
	SDSClusterName = "embassy_sds"
	// AuthzClusterName reaches the agent's AuthzSocket.
	AuthzClusterName = "embassy_authz"
)

// CertificateProvider is the certificate_providers entry of a proxyless
// bootstrap that xDS security configs name, both for the workload's
// certificate and for the trust bundle.
const CertificateProvider = "default"

// AuthzExtensionPrefix prefixes the TypedExtensionConfig carrying a
// policy's bundle, which the agent subscribes to:
// "embassy.authz/<namespace>/<policy>".
const AuthzExtensionPrefix = "embassy.authz/"

// AuthzExtensionName names the TypedExtensionConfig of a policy's bundle.
func AuthzExtensionName(namespace, policy string) string {
	return AuthzExtensionPrefix + namespace + "/" + policy
}
