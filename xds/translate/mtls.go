package translate

import (
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	"slices"

	"embassy.dev/embassy/pkg/resource"
)

// The agent's socket directory, as Envoy's bootstrap and SDS see it. The
// agent serves these names; they are repeated here so the translator does
// not depend on the agent package, and a test there keeps them equal.
const (
	// SDSCertificateSecret is the SDS secret holding the workload's
	// certificate chain and private key.
	SDSCertificateSecret = "default"
	// SDSValidationSecret is the SDS secret holding the trust bundle.
	SDSValidationSecret = "ROOTCA"
	// SDSClusterName is the static bootstrap cluster through which Envoy
	// reaches the agent's SDS socket.
	SDSClusterName = "embassy_sds"
	// SDSSocket is the agent's SDS unix socket in its directory.
	SDSSocket = "sds.sock"
	// CertFile, KeyFile and BundleFile are the PEM files the agent writes
	// for proxyless gRPC's file_watcher certificate provider.
	CertFile   = "svid.pem"
	KeyFile    = "svid-key.pem"
	BundleFile = "bundle.pem"
	// CertificateProviderInstance is the certificate_providers entry of a
	// proxyless bootstrap that xDS security configs name, both for the
	// workload's certificate and for the trust bundle.
	CertificateProviderInstance = "default"
)

// Control-plane identity: the namespace and service account whose SPIFFE ID
// embassy-cp's serving certificate carries.
const (
	ControlPlaneNamespace      = "embassy-system"
	ControlPlaneServiceAccount = "embassy-cp"
)

// Extension names Envoy and gRPC look the TLS pieces up by.
const (
	tlsTransportSocketName = "envoy.transport_sockets.tls"
	tlsInspectorName       = "envoy.filters.listener.tls_inspector"
)

// SDSSecretNames lists the SDS secrets a translated set may name without
// serving them: the agent beside each sidecar serves both. The control
// plane passes them to the validate package's reference check.
func SDSSecretNames() []string { return []string{SDSCertificateSecret, SDSValidationSecret} }

// SPIFFEID is the identity of a service account in a trust domain:
// spiffe://<td>/ns/<ns>/sa/<sa>.
func SPIFFEID(trustDomain, namespace, serviceAccount string) string {
	return "spiffe://" + trustDomain + "/ns/" + namespace + "/sa/" + serviceAccount
}

// ControlPlaneSPIFFEID is the identity embassy-cp serves xDS with.
func ControlPlaneSPIFFEID(trustDomain string) string {
	return SPIFFEID(trustDomain, ControlPlaneNamespace, ControlPlaneServiceAccount)
}

// trustDomainPrefix matches every identity of the trust domain.
func trustDomainPrefix(trustDomain string) string { return "spiffe://" + trustDomain + "/" }

// mtlsMode is the mesh's mTLS mode; an unset one is STRICT, as the mesh
// package defaults it.
func (t *translator) mtlsMode() string {
	if m := t.s.Mesh.MTLS; m != nil && m.Mode != "" {
		return m.Mode
	}
	return resource.MTLSStrict
}

// mtlsOn reports whether mesh traffic leaves a proxy as mTLS: in STRICT, and
// in PERMISSIVE too, since every mesh member accepts mTLS then.
func (t *translator) mtlsOn() bool { return t.mtlsMode() != resource.MTLSDisabled }

// peerIdentities are the SPIFFE IDs a cluster's endpoints may present:
// those of the service accounts the operator allows to serve the service
// (or its default), never those its endpoints claim, so a workload that
// named the service without being allowed to cannot pass a client's TLS
// check even at a listed address. Every cluster of a service checks the
// same identities, and static endpoints must hold one of them too.
func (t *translator) peerIdentities(c clusterRef) []string {
	ids := make([]string, len(c.svc.ServiceAccounts))
	for i, sa := range c.svc.ServiceAccounts {
		ids[i] = SPIFFEID(t.s.Mesh.TrustDomain, c.svc.Ref.Namespace, sa)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// sanMatchers turns peer identities into string matchers.
func sanMatchers(ids []string, prefix bool) []*matcher.StringMatcher {
	out := make([]*matcher.StringMatcher, len(ids))
	for i, id := range ids {
		if prefix {
			out[i] = &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Prefix{Prefix: id}}
		} else {
			out[i] = &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: id}}
		}
	}
	return out
}

// uriSANMatchers matches URI SANs, which is where a SPIFFE ID lives.
func uriSANMatchers(ids []string, prefix bool) []*tls.SubjectAltNameMatcher {
	ms := sanMatchers(ids, prefix)
	out := make([]*tls.SubjectAltNameMatcher, len(ms))
	for i, m := range ms {
		out[i] = &tls.SubjectAltNameMatcher{SanType: tls.SubjectAltNameMatcher_URI, Matcher: m}
	}
	return out
}

// SDSConfig is how Envoy fetches a secret: over gRPC from the static
// cluster SDSClusterName, the agent's socket. The bootstrap builds the
// same shape for the xDS cluster's own certificate.
func SDSConfig(name string) *tls.SdsSecretConfig {
	return &tls.SdsSecretConfig{
		Name: name,
		SdsConfig: &core.ConfigSource{
			ResourceApiVersion: core.ApiVersion_V3,
			ConfigSourceSpecifier: &core.ConfigSource_ApiConfigSource{ApiConfigSource: &core.ApiConfigSource{
				ApiType:             core.ApiConfigSource_GRPC,
				TransportApiVersion: core.ApiVersion_V3,
				GrpcServices: []*core.GrpcService{{TargetSpecifier: &core.GrpcService_EnvoyGrpc_{
					EnvoyGrpc: &core.GrpcService_EnvoyGrpc{ClusterName: SDSClusterName},
				}}},
			}},
		},
	}
}

// SDSCommonTLSContext presents the workload certificate and validates the
// peer against the trust bundle, both over SDS, accepting peers whose URI
// SAN matches one of sans.
func SDSCommonTLSContext(sans []*tls.SubjectAltNameMatcher, alpn []string) *tls.CommonTlsContext {
	return &tls.CommonTlsContext{
		TlsCertificateSdsSecretConfigs: []*tls.SdsSecretConfig{SDSConfig(SDSCertificateSecret)},
		ValidationContextType: &tls.CommonTlsContext_CombinedValidationContext{
			CombinedValidationContext: &tls.CommonTlsContext_CombinedCertificateValidationContext{
				DefaultValidationContext:         &tls.CertificateValidationContext{MatchTypedSubjectAltNames: sans},
				ValidationContextSdsSecretConfig: SDSConfig(SDSValidationSecret),
			},
		},
		AlpnProtocols: alpn,
	}
}

// providerCommonTLSContext is proxyless gRPC's form: certificate and trust
// bundle from the bootstrap's certificate provider (gRPC never uses SDS).
// sans may be nil, and must be on the server side, where gRPC refuses it.
func providerCommonTLSContext(sans []*matcher.StringMatcher) *tls.CommonTlsContext {
	instance := func() *tls.CertificateProviderPluginInstance {
		return &tls.CertificateProviderPluginInstance{InstanceName: CertificateProviderInstance}
	}
	return &tls.CommonTlsContext{
		TlsCertificateProviderInstance: instance(),
		ValidationContextType: &tls.CommonTlsContext_ValidationContext{ValidationContext: &tls.CertificateValidationContext{
			CaCertificateProviderInstance: instance(),
			MatchSubjectAltNames:          sans,
		}},
	}
}

// tlsTransportSocket wraps an Upstream- or DownstreamTlsContext under the
// name both Envoy and gRPC require.
func tlsTransportSocket(ctx proto.Message) *core.TransportSocket {
	return &core.TransportSocket{Name: tlsTransportSocketName, ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: toAny(ctx)}}
}

// upstreamALPN is what a sidecar offers a service port over TLS: h2 for
// the ports it speaks HTTP/2 to, nothing otherwise.
func upstreamALPN(protocol string) []string {
	if usesHTTP2(protocol) {
		return []string{"h2"}
	}
	return nil
}

// downstreamALPN lets an inbound HTTP listener negotiate either HTTP
// version, since its HCM's codec follows what the caller picked.
func downstreamALPN(protocol string) []string {
	if isHTTPFamily(protocol) {
		return []string{"h2", "http/1.1"}
	}
	return nil
}

// sni is the server name a sidecar sends to a service: <svc>.<ns>.
func sni(c clusterRef) string { return c.svc.Ref.String() }
