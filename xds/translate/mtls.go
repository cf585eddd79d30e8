package translate

import (
	"slices"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/proto"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/resource"
)

// tlsInspectorName is the listener filter Envoy reads a connection's SNI
// and ALPN with.
const tlsInspectorName = "envoy.filters.listener.tls_inspector"

// mtlsMode is the mesh's mTLS mode, its default resolved by the model.
func (t *translator) mtlsMode() string { return t.s.MTLSMode }

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
		ids[i] = dataplane.WorkloadIDString(t.s.Mesh.TrustDomain, c.svc.Ref.Namespace, sa)
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

// providerCommonTLSContext is proxyless gRPC's form: certificate and trust
// bundle from the bootstrap's certificate provider (gRPC never uses SDS).
// sans may be nil, and must be on the server side, where gRPC refuses it.
func providerCommonTLSContext(sans []*matcher.StringMatcher) *tls.CommonTlsContext {
	instance := func() *tls.CertificateProviderPluginInstance {
		return &tls.CertificateProviderPluginInstance{InstanceName: dataplane.CertificateProvider}
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
	return &core.TransportSocket{Name: wellknown.TransportSocketTLS, ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: toAny(ctx)}}
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
