package translate

import (
	"fmt"
	"net"
	"strconv"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// outboundVirtualHosts builds one service's outbound virtual hosts, one
// per HTTP-family port. Envoy refuses a domain that two virtual hosts
// share, so the bare host <svc>.<ns> belongs to the service's first
// HTTP-family port and every port also answers to <svc>.<ns>:<port>.
func (t *translator) outboundVirtualHosts(svc *mesh.Service) []*route.VirtualHost {
	var vhosts []*route.VirtualHost
	for i, p := range svc.HTTPPorts() {
		domains := []string{hostPort(svc.Ref, p.Port)}
		if i == 0 {
			domains = []string{svc.Ref.String(), hostPort(svc.Ref, p.Port)}
		}
		vhosts = append(vhosts, t.virtualHost(svc, p, domains))
	}
	return vhosts
}

// outboundHTTPRoutes builds the sidecar's outbound RouteConfigurations:
// with shared routes, one holding every service's virtual hosts; per
// service, one per service with an HTTP-family port, with the scope that
// selects it.
func (t *translator) outboundHTTPRoutes() ([]*route.RouteConfiguration, []*route.ScopedRouteConfiguration) {
	if !t.routesPerService() {
		var vhosts []*route.VirtualHost
		for _, svc := range t.s.Services {
			vhosts = append(vhosts, t.outboundVirtualHosts(svc)...)
		}
		return []*route.RouteConfiguration{routeConfiguration(OutboundHTTPName, vhosts)}, nil
	}
	var rcs []*route.RouteConfiguration
	var scopes []*route.ScopedRouteConfiguration
	for _, svc := range t.s.Services {
		vhosts := t.outboundVirtualHosts(svc)
		if len(vhosts) == 0 {
			continue
		}
		rcs = append(rcs, routeConfiguration(OutboundRouteName(svc.Ref), vhosts))
		scopes = append(scopes, outboundScope(svc.Ref))
	}
	sortRoutes(rcs)
	sortScopes(scopes)
	return rcs, scopes
}

// routesPerService says whether the Mesh gives each service its own
// outbound RouteConfiguration (spec.sidecarRoutes).
func (t *translator) routesPerService() bool {
	return t.s.Mesh.SidecarRoutes == resource.RoutesPerService
}

// outboundHTTPListener is where apps send every mesh HTTP request, HTTP
// proxy style: to 127.0.0.1:15001 with Host <svc>.<ns>:<port>. One listener
// serves every service, so adding a service changes routes (and adds a
// scope, per service) and never rebinds a socket. Its fault and rate limit
// filters do nothing until a route turns them on for itself.
func outboundHTTPListener(perService bool) *listener.Listener {
	h := httpConnectionManager(OutboundHTTPName, OutboundHTTPName, nil, faultFilter(), disabledLocalRateLimitFilter())
	if perService {
		h.RouteSpecifier = scopedRoutes()
	}
	return listenerWithFilter(OutboundHTTPName, outboundHTTPAddress, outboundHTTPPort, hcmFilter(normalizePaths(h)), nil)
}

// outboundTCPListeners binds <svc.Ref.TCPAddress()>:<port> for each tcp
// service port, proxying to that service. The address names the service,
// as a tcp connection cannot, and is never 127.0.0.1, so a sidecar binds
// neither the port of an app on its node nor one of its own listeners'.
// Two services whose addresses coincide on one port get no listener.
func (t *translator) outboundTCPListeners() []*listener.Listener {
	owners := map[string][]clusterRef{}
	for _, svc := range t.s.Services {
		for _, p := range svc.Spec.Ports {
			if p.Protocol == resource.ProtocolTCP {
				key := net.JoinHostPort(svc.Ref.TCPAddress(), strconv.FormatUint(uint64(p.Port), 10))
				owners[key] = append(owners[key], clusterRef{svc: svc, port: p})
			}
		}
	}
	var out []*listener.Listener
	for addr, refs := range owners {
		if len(refs) > 1 {
			for _, c := range refs {
				t.diag(resource.KindService, c.svc.Ref.Namespace, c.svc.Ref.Name, "%s", tcpClash(addr, refs))
			}
			continue
		}
		c := refs[0]
		name := outboundTCPName(c.svc.Ref, c.port.Port)
		out = append(out, listenerWithFilter(name, c.svc.Ref.TCPAddress(), c.port.Port, tcpProxyFilter(tcpProxy(name, c.name())), nil))
	}
	sortListeners(out)
	return out
}

// tcpClash explains why services whose tcp listeners would share an
// address got none.
func tcpClash(addr string, refs []clusterRef) string {
	names := make([]string, len(refs))
	for i, c := range refs {
		names[i] = c.svc.Ref.String()
	}
	return fmt.Sprintf("tcp services %v share the outbound address %s; none gets an outbound tcp listener (rename one: the address is derived from <name>.<namespace>)", names, addr)
}

// outbound builds everything the Envoy sidecars share.
func (t *translator) outbound() *Resources {
	rcs, scopes := t.outboundHTTPRoutes()
	clusters, clas := t.outboundClusters()
	listeners := append([]*listener.Listener{outboundHTTPListener(t.routesPerService())}, t.outboundTCPListeners()...)
	sortListeners(listeners)
	return &Resources{Listeners: listeners, Routes: rcs, ScopedRoutes: scopes, Clusters: clusters, Endpoints: clas}
}
