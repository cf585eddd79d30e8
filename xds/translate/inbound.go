package translate

import (
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
	for _, ip := range t.inboundPorts(w) {
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
