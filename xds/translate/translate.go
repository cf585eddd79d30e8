package translate

import (
	"fmt"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// Outbound returns the resources every Envoy sidecar in the mesh shares:
// outbound listener(s), their RouteConfigurations, every service cluster and
// ClusterLoadAssignment.
func Outbound(s *mesh.Snapshot) (*Resources, []Diagnostic) {
	t := newTranslator(s, Envoy)
	t.checkRoutes()
	return t.outbound(), t.diagnostics()
}

// Inbound returns the resources specific to one Envoy sidecar: its inbound
// listener(s) and local app clusters. An unknown workload gets empty
// Resources and a Diagnostic.
func Inbound(s *mesh.Snapshot, p Proxy) (*Resources, []Diagnostic) {
	t := newTranslator(s, Envoy)
	w := s.Workload(p.Namespace, p.Workload)
	if w == nil {
		t.diag(resource.KindWorkload, p.Namespace, p.Workload, "proxy %q names a workload that does not exist; it gets no inbound listeners", p.ID)
		return &Resources{}, t.diagnostics()
	}
	out := t.inbound(w)
	t.inboundAuthz(w, out, false)
	t.inboundRateLimits(w, out)
	out.ExtensionConfigs = t.authzExtensionConfigs(w)
	return out, t.diagnostics()
}

// AuthzBundles returns only the authorization bundles (ExtensionConfigs)
// of one workload's agent: the same ones Inbound and ProxylessServer carry,
// without translating the workload's listeners. An unknown workload gets
// none.
func AuthzBundles(s *mesh.Snapshot, p Proxy) (*Resources, []Diagnostic) {
	t := newTranslator(s, Envoy)
	w := s.Workload(p.Namespace, p.Workload)
	if w == nil {
		return &Resources{}, t.diagnostics()
	}
	return &Resources{ExtensionConfigs: t.authzExtensionConfigs(w)}, t.diagnostics()
}

// ProxylessClient returns the resources every proxyless gRPC client shares.
func ProxylessClient(s *mesh.Snapshot) (*Resources, []Diagnostic) {
	t := newTranslator(s, Proxyless)
	t.checkRoutes()
	return t.proxylessClient(), t.diagnostics()
}

// ProxylessServer returns the resources specific to one xDS-enabled gRPC
// server: the Listener of each port its workload serves. An unknown
// workload gets empty Resources and a Diagnostic.
func ProxylessServer(s *mesh.Snapshot, p Proxy) (*Resources, []Diagnostic) {
	t := newTranslator(s, Proxyless)
	w := s.Workload(p.Namespace, p.Workload)
	if w == nil {
		t.diag(resource.KindWorkload, p.Namespace, p.Workload, "proxy %q names a workload that does not exist; it gets no server listeners", p.ID)
		return &Resources{}, t.diagnostics()
	}
	out := t.proxylessServer(w)
	t.inboundAuthz(w, out, true)
	out.ExtensionConfigs = t.authzExtensionConfigs(w)
	return out, t.diagnostics()
}

// ForProxy merges what a proxy gets: Outbound and Inbound for an Envoy
// sidecar; ProxylessClient for a proxyless node, plus ProxylessServer when
// its id (or Workload and Namespace) names a Workload, which makes it an
// xDS-enabled gRPC server. The shared part is narrowed to the services the
// proxy's workload sees (Scope, mesh.Snapshot.Visible). A proxy without
// Workload and Namespace has them read from its node id.
func ForProxy(s *mesh.Snapshot, p Proxy) (*Resources, []Diagnostic) {
	switch p.Flavour {
	case Proxyless:
		return forProxyless(s, p)
	case Envoy, "":
	default:
		return &Resources{}, []Diagnostic{{Resource: "Proxy/" + p.ID, Message: fmt.Sprintf("unknown proxy flavour %q; it gets no resources", p.Flavour)}}
	}
	if p.Workload == "" && p.Namespace == "" {
		w, ns, err := dataplane.ParseNodeID(p.ID)
		if err != nil {
			return &Resources{}, []Diagnostic{{Resource: "Proxy/" + p.ID, Message: err.Error() + "; it gets no resources"}}
		}
		p.Workload, p.Namespace = w, ns
	}
	out, outDiags := Outbound(s)
	out = Scope(s, out, s.Visible(s.Workload(p.Namespace, p.Workload)))
	in, inDiags := Inbound(s, p)
	out.Listeners, outDiags = dropClashingListeners(out.Listeners, in.Listeners, p, outDiags)
	return Merge(out, in), sortDiagnostics(append(outDiags, inDiags...))
}

// forProxyless serves a proxyless node the shared client resources, and
// its server Listeners when it is a workload. A node id that names no
// workload is an ordinary client, not a problem.
func forProxyless(s *mesh.Snapshot, p Proxy) (*Resources, []Diagnostic) {
	client, diags := ProxylessClient(s)
	if p.Workload == "" && p.Namespace == "" {
		p.Workload, p.Namespace, _ = dataplane.ParseNodeID(p.ID)
	}
	client = Scope(s, client, s.Visible(s.Workload(p.Namespace, p.Workload)))
	if s.Workload(p.Namespace, p.Workload) == nil {
		return client, diags
	}
	server, serverDiags := ProxylessServer(s, p)
	return Merge(client, server), sortDiagnostics(append(diags, serverDiags...))
}

// dropClashingListeners removes shared outbound listeners bound to the same
// address as one of the proxy's inbound listeners (a workload on 127.0.0.1
// whose port a tcp service also uses): Envoy would refuse the whole update.
func dropClashingListeners(outbound, inbound []*listener.Listener, p Proxy, diags []Diagnostic) ([]*listener.Listener, []Diagnostic) {
	bound := map[string]bool{}
	for _, l := range inbound {
		bound[listenerAddress(l)] = true
	}
	kept := make([]*listener.Listener, 0, len(outbound))
	for _, l := range outbound {
		if bound[listenerAddress(l)] {
			key := resource.Key{Kind: resource.KindWorkload, Namespace: p.Namespace, Name: p.Workload}
			diags = append(diags, Diagnostic{Resource: key.String(), Message: fmt.Sprintf("inbound listener on %s clashes with outbound listener %s; the outbound one is left out", listenerAddress(l), l.GetName())})
			continue
		}
		kept = append(kept, l)
	}
	return kept, diags
}

func listenerAddress(l *listener.Listener) string {
	sa := l.GetAddress().GetSocketAddress()
	return fmt.Sprintf("%s:%d", sa.GetAddress(), sa.GetPortValue())
}

// checkRoutes reports Routes that apply to nothing: their service does not
// exist, or their port is not one of its HTTP-family ports.
func (t *translator) checkRoutes() {
	for _, r := range t.s.Routes {
		svc := t.s.Service(mesh.ServiceRef{Namespace: r.Namespace, Name: r.Spec.Service})
		if svc == nil {
			t.diag(resource.KindRoute, r.Namespace, r.Name, "service %s.%s does not exist; the route is ignored", r.Spec.Service, r.Namespace)
			continue
		}
		if len(svc.HTTPPorts()) == 0 {
			t.diag(resource.KindRoute, r.Namespace, r.Name, "service %s has no http, http2 or grpc port; the route is ignored", svc.Ref)
			continue
		}
		if r.Spec.Port == 0 {
			continue
		}
		if !hasHTTPPort(svc, r.Spec.Port) {
			t.diag(resource.KindRoute, r.Namespace, r.Name, "port %d is not an http, http2 or grpc port of %s; the route is ignored", r.Spec.Port, svc.Ref)
		}
	}
}

func hasHTTPPort(svc *mesh.Service, port uint32) bool {
	for _, p := range svc.HTTPPorts() {
		if p.Port == port {
			return true
		}
	}
	return false
}
