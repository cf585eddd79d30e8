package translate

import (
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsinspector "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/dataplane/sds"
	"embassy.dev/embassy/pkg/resource"
)

// upstreamTransportSocket decides how a sidecar or proxyless client speaks
// to a cluster's endpoints: plaintext when the mesh's mTLS is DISABLED,
// mTLS otherwise (in PERMISSIVE every member accepts mTLS, so callers
// always use it). The peer must present one of the SPIFFE IDs the operator
// allows to serve the service. Sidecars take their certificate and trust bundle over SDS from
// the agent; proxyless gRPC from its bootstrap's certificate provider.
func (t *translator) upstreamTransportSocket(c clusterRef) *core.TransportSocket {
	if !t.mtlsOn() {
		return nil
	}
	ids := t.peerIdentities(c)
	if t.flavour == Proxyless {
		return tlsTransportSocket(&tls.UpstreamTlsContext{CommonTlsContext: providerCommonTLSContext(sanMatchers(ids, false))})
	}
	return tlsTransportSocket(&tls.UpstreamTlsContext{
		CommonTlsContext: sds.CommonTLSContext(uriSANMatchers(ids, false), upstreamALPN(c.port.Protocol)),
		Sni:              sni(c),
	})
}

// inboundTLSContext is how a sidecar accepts mesh mTLS: its workload
// certificate, a client certificate required and issued in the trust
// domain. Which caller may do what is authorization's business, not the
// handshake's.
func (t *translator) inboundTLSContext(ip *inboundPort) *tls.DownstreamTlsContext {
	sans := uriSANMatchers([]string{dataplane.TrustDomainPrefix(t.s.Mesh.TrustDomain)}, true)
	return &tls.DownstreamTlsContext{
		RequireClientCertificate: wrapperspb.Bool(true),
		CommonTlsContext:         sds.CommonTLSContext(sans, downstreamALPN(ip.port.Protocol)),
	}
}

// secureInbound applies the mesh's mTLS mode to an inbound listener.
// STRICT puts mTLS on every filter chain. PERMISSIVE adds the TLS
// inspector and, before each plaintext chain, an mTLS copy of it matching
// transport_protocol "tls", so mesh callers get mTLS and others plaintext
// on the same port. DISABLED leaves the listener plaintext.
func (t *translator) secureInbound(l *listener.Listener, ip *inboundPort) *listener.Listener {
	mode := t.mtlsMode()
	if mode == resource.MTLSDisabled {
		return l
	}
	ts := tlsTransportSocket(t.inboundTLSContext(ip))
	if mode != resource.MTLSPermissive {
		for _, fc := range l.FilterChains {
			fc.TransportSocket = ts
		}
		return l
	}
	chains := make([]*listener.FilterChain, 0, 2*len(l.FilterChains))
	for _, plain := range l.FilterChains {
		secure := proto.Clone(plain).(*listener.FilterChain)
		secure.Name, plain.Name = "mtls", "plaintext"
		secure.FilterChainMatch = &listener.FilterChainMatch{TransportProtocol: "tls"}
		secure.TransportSocket = ts
		chains = append(chains, secure)
	}
	l.FilterChains = append(chains, l.FilterChains...)
	l.ListenerFilters = []*listener.ListenerFilter{{
		Name:       tlsInspectorName,
		ConfigType: &listener.ListenerFilter_TypedConfig{TypedConfig: toAny(&tlsinspector.TlsInspector{})},
	}}
	permissiveInspection(l)
	return l
}

// permissiveListenerFiltersTimeout bounds how long a PERMISSIVE listener
// waits for a connection's first bytes. A TLS caller sends its ClientHello
// at once; a plaintext client of a server-first protocol (MySQL, SMTP,
// Redis sentinels' greetings) sends nothing until the server speaks.
const permissiveListenerFiltersTimeout = time.Second

// permissiveInspection lets a connection whose first bytes never come go
// on to the plaintext chain after a short wait. Envoy's default is to
// close it after 15s (listener_impl.cc: the listener filter timeout closes
// the socket unless continue_on_listener_filters_timeout is set), which
// breaks every server-first protocol on a PERMISSIVE port.
func permissiveInspection(l *listener.Listener) {
	l.ContinueOnListenerFiltersTimeout = true
	l.ListenerFiltersTimeout = durationpb.New(permissiveListenerFiltersTimeout)
}
