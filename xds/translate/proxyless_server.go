package translate

import (
	"fmt"
	"net"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// ServerListenerName names the Listener of a proxyless gRPC server
// listening on address:port.
func ServerListenerName(address string, port uint32) string {
	return fmt.Sprintf(dataplane.ServerListenerTemplate, net.JoinHostPort(address, fmt.Sprint(port)))
}

// proxylessServer builds the Listeners an xDS-enabled gRPC server of the
// workload asks for: one per HTTP-family port of the services it backs,
// named after and bound to the workload's address and that port (gRPC
// refuses a Listener whose address is not where it listens). A tcp port
// is not served by gRPC, so it gets none.
func (t *translator) proxylessServer(w *mesh.Workload) *Resources {
	out := &Resources{}
	for _, ip := range t.inboundPorts(w) {
		if !isHTTPFamily(ip.port.Protocol) {
			continue
		}
		out.Listeners = append(out.Listeners, t.serverListener(ip))
	}
	return out
}

// serverListener is one gRPC server Listener: a single filter chain whose
// HCM routes everything with NonForwardingAction (the server handles the
// call itself) and ends with the router, as gRPC requires, secured as the
// mesh's mTLS mode says.
func (t *translator) serverListener(ip *inboundPort) *listener.Listener {
	name := ServerListenerName(ip.workload.Spec.Address, ip.listen)
	rc := routeConfiguration(inboundName(ip.listen), []*route.VirtualHost{{
		Name:    inboundName(ip.listen),
		Domains: []string{"*"},
		Routes: []*route.Route{{
			Name:   "local",
			Match:  &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}},
			Action: &route.Route_NonForwardingAction{NonForwardingAction: &route.NonForwardingAction{}},
		}},
	}})
	f := hcmFilter(httpConnectionManager(inboundStatPrefix(ip.listen), "", rc))
	l := listenerWithFilter(name, ip.workload.Spec.Address, ip.listen, f, nil)
	if ctx := t.serverTLSContext(ip); ctx != nil {
		l.FilterChains[0].TransportSocket = tlsTransportSocket(ctx)
	}
	return l
}

// serverTLSContext secures a proxyless server with its bootstrap's
// certificate provider. gRPC refuses SAN matching on the server side, so
// callers are only checked to hold a certificate of the trust bundle;
// clients check the server's SPIFFE ID, and RBAC authorizes callers.
//
// PERMISSIVE cannot be what it is for sidecars: gRPC NACKs listener
// filters (so no TLS inspector) and drops filter chains matching
// transport_protocol "tls", so one port cannot serve both TLS and
// plaintext. The closest it supports is TLS with an optional client
// certificate: mesh callers, which use mTLS in PERMISSIVE, keep working,
// and callers without an identity are still accepted, though only over
// TLS. The difference is reported on the workload.
func (t *translator) serverTLSContext(ip *inboundPort) *tls.DownstreamTlsContext {
	switch t.mtlsMode() {
	case resource.MTLSDisabled:
		return nil
	case resource.MTLSPermissive:
		t.diag(resource.KindWorkload, ip.workload.Namespace, ip.workload.Name, "proxyless gRPC server on port %d cannot accept plaintext in PERMISSIVE mode; it accepts TLS with an optional client certificate", ip.listen)
		return &tls.DownstreamTlsContext{RequireClientCertificate: wrapperspb.Bool(false), CommonTlsContext: providerCommonTLSContext(nil)}
	}
	return &tls.DownstreamTlsContext{RequireClientCertificate: wrapperspb.Bool(true), CommonTlsContext: providerCommonTLSContext(nil)}
}
