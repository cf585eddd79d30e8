package translate

import (
	"fmt"
	"net/netip"
	"sort"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// inboundPort is one port a workload receives mesh traffic on, and the
// local application port its sidecar forwards it to.
type inboundPort struct {
	workload *mesh.Workload
	svc      *mesh.Service
	port     resource.ServicePort
	listen   uint32
	app      uint32
}

// inboundPorts lists the ports of the services a workload backs, sorted by
// listen port. Two service ports landing on the same workload port share
// one listener; the first (by service, then declaration) decides its
// protocol, and a disagreement is reported.
func (t *translator) inboundPorts(w *mesh.Workload) []*inboundPort {
	byPort := map[uint32]*inboundPort{}
	for _, name := range w.Spec.Services {
		svc := t.s.Service(mesh.ServiceRef{Namespace: w.Namespace, Name: name})
		if svc == nil {
			t.diag(resource.KindWorkload, w.Namespace, w.Name, "backs service %s.%s, which does not exist", name, w.Namespace)
			continue
		}
		for _, p := range svc.Spec.Ports {
			ip := &inboundPort{workload: w, svc: svc, port: p, listen: p.Port}
			if p.TargetPort != 0 {
				ip.listen = p.TargetPort
			}
			for _, wp := range w.Spec.Ports {
				if wp.Name == p.Name {
					ip.listen = wp.Port
					ip.app = wp.AppPort
				}
			}
			if ip.app == 0 {
				ip.app = ip.listen
			}
			if prev, ok := byPort[ip.listen]; ok {
				if isHTTPFamily(prev.port.Protocol) != isHTTPFamily(p.Protocol) || prev.app != ip.app {
					t.diag(resource.KindWorkload, w.Namespace, w.Name, "port %d serves %s port %s and %s port %s differently; the first wins", ip.listen, prev.svc.Ref, prev.port.Name, svc.Ref, p.Name)
				}
				continue
			}
			byPort[ip.listen] = ip
		}
	}
	out := make([]*inboundPort, 0, len(byPort))
	for _, ip := range byPort {
		out = append(out, ip)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].listen < out[j].listen })
	return out
}

// inbound builds one workload's inbound listeners and local clusters.
func (t *translator) inbound(w *mesh.Workload) *Resources {
	out := &Resources{}
	ports := t.inboundPorts(w)
	for _, ip := range ports {
		if why := loopsBack(ip, ports); why != "" {
			t.diag(resource.KindWorkload, w.Namespace, w.Name, "%s", why)
			continue
		}
		name := inboundName(ip.listen)
		out.Clusters = append(out.Clusters, staticCluster(name, localhost, ip.app, usesHTTP2(ip.port.Protocol)))
		out.Listeners = append(out.Listeners, t.secureInbound(inboundListener(ip), ip))
	}
	sortListeners(out.Listeners)
	sortClusters(out.Clusters)
	return out
}

// inboundListener accepts mesh traffic on the workload's address and hands
// it to the local app: through an HCM with an inline route for HTTP-family
// ports (so HTTP filters such as authorization can be added), through a TCP
// proxy otherwise.
func inboundListener(ip *inboundPort) *listener.Listener {
	name := inboundName(ip.listen)
	var f *listener.Filter
	if isHTTPFamily(ip.port.Protocol) {
		f = hcmFilter(normalizePaths(httpConnectionManager(inboundStatPrefix(ip.listen), "", inboundRoutes(name))))
	} else {
		f = tcpProxyFilter(tcpProxy(inboundStatPrefix(ip.listen), name))
	}
	return listenerWithFilter(name, ip.workload.Spec.Address, ip.listen, f, nil)
}

// inboundRoutes sends every request to the local cluster. The route timeout
// is disabled, since the caller's sidecar already enforces the rule's.
func inboundRoutes(name string) *route.RouteConfiguration {
	return routeConfiguration(name, []*route.VirtualHost{{
		Name:    name,
		Domains: []string{"*"},
		Routes: []*route.Route{{
			Name:  "local",
			Match: routeMatch(resource.RouteMatch{}),
			Action: &route.Route_Route{Route: &route.RouteAction{
				ClusterSpecifier: &route.RouteAction_Cluster{Cluster: name},
				Timeout:          durationpb.New(0),
			}},
		}},
	}})
}

func inboundStatPrefix(port uint32) string {
	return "inbound_" + inboundName(port)[len("inbound|"):]
}

// loopsBack explains why ip's listener would take an app's socket or
// forward into the sidecar itself, or is "" when it would do neither.
func loopsBack(ip *inboundPort, ports []*inboundPort) string {
	if app := bindsAppPort(ip, ports); app != nil {
		return selfBind(ip, app)
	}
	if ip.app == outboundHTTPPort {
		return fmt.Sprintf("port %s: its app port %d is where the sidecar takes apps' outbound HTTP (%s:%d); no inbound listener. Set spec.ports[].appPort of %s to the port the app really listens on",
			ip.port.Name, ip.app, outboundHTTPAddress, outboundHTTPPort, ip.port.Name)
	}
	return ""
}

// bindsAppPort returns the port whose app listens where ip's listener would
// bind, or nil. Apps listen on 127.0.0.1:<appPort>; a workload whose
// address is 127.0.0.1 (or a wildcard) would have its sidecar bind that
// same socket: Envoy fails with "Address already in use" while the app
// runs, and when the app is its own port's, the listener forwards to
// itself.
func bindsAppPort(ip *inboundPort, ports []*inboundPort) *inboundPort {
	a, err := netip.ParseAddr(ip.workload.Spec.Address)
	if err != nil || (a.Unmap() != netip.MustParseAddr(localhost) && !a.IsUnspecified()) {
		return nil
	}
	for _, p := range ports {
		if p.app == ip.listen {
			return p
		}
	}
	return nil
}

// selfBind explains an inbound listener left out by bindsAppPort, naming
// the field to change.
func selfBind(ip, app *inboundPort) string {
	return fmt.Sprintf("port %s: the sidecar would listen on %s:%d, where the app of port %s listens (%s:%d); "+
		"no inbound listener. Set spec.ports[].appPort of %s to the port the app really listens on, other than %d, "+
		"or give the workload an address other than %s",
		ip.port.Name, ip.workload.Spec.Address, ip.listen, app.port.Name, localhost, app.app, app.port.Name, ip.listen, localhost)
}
