package translate

import (
	"fmt"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"embassy.dev/embassy/pkg/resource"
)

// outboundHTTPRoutes builds the sidecar's shared RouteConfiguration: one
// virtual host per HTTP-family service port. Envoy refuses a domain that two
// virtual hosts share, so the bare host <svc>.<ns> belongs to the service's
// first HTTP-family port and every port also answers to <svc>.<ns>:<port>.
func (t *translator) outboundHTTPRoutes() *route.RouteConfiguration {
	var vhosts []*route.VirtualHost
	for _, svc := range t.s.Services {
		for i, p := range httpPorts(svc) {
			domains := []string{hostPort(svc.Ref, p.Port)}
			if i == 0 {
				domains = []string{svc.Ref.String(), hostPort(svc.Ref, p.Port)}
			}
			vhosts = append(vhosts, t.virtualHost(svc, p, domains))
		}
	}
	return routeConfiguration(outboundHTTPName, vhosts)
}

// outboundHTTPListener is where apps send every mesh HTTP request, HTTP
// proxy style: to 127.0.0.1:15001 with Host <svc>.<ns>:<port>. One listener
// and one RouteConfiguration serve every service, so adding a service
// changes a route and never rebinds a socket. Its fault and rate limit
// filters do nothing until a route turns them on for itself.
func outboundHTTPListener() *listener.Listener {
	h := normalizePaths(httpConnectionManager(outboundHTTPName, outboundHTTPName, nil, faultFilter(), disabledLocalRateLimitFilter()))
	return listenerWithFilter(outboundHTTPName, outboundHTTPAddress, outboundHTTPPort, hcmFilter(h), nil)
}

// outboundTCPListeners binds 127.0.0.1:<port> for each tcp service port,
// proxying to that service. A tcp connection carries no host name, so a port
// is only usable when exactly one tcp service in the mesh claims it.
func (t *translator) outboundTCPListeners() []*listener.Listener {
	owners := map[uint32][]clusterRef{}
	for _, svc := range t.s.Services {
		for _, p := range svc.Spec.Ports {
			if p.Protocol == resource.ProtocolTCP {
				owners[p.Port] = append(owners[p.Port], clusterRef{svc: svc, port: p})
			}
		}
	}
	var out []*listener.Listener
	for port, refs := range owners {
		if port == outboundHTTPPort || len(refs) > 1 {
			for _, c := range refs {
				t.diag(resource.KindService, c.svc.Ref.Namespace, c.svc.Ref.Name, "%s", tcpClash(port, refs))
			}
			continue
		}
		name := outboundTCPName(port)
		out = append(out, listenerWithFilter(name, localhost, port, tcpProxyFilter(tcpProxy(name, refs[0].name())), nil))
	}
	sortListeners(out)
	return out
}

// tcpClash explains why a tcp port got no outbound listener.
func tcpClash(port uint32, refs []clusterRef) string {
	if port == outboundHTTPPort {
		return fmt.Sprintf("tcp port %d is the sidecar's outbound HTTP port; no outbound tcp listener", port)
	}
	names := make([]string, len(refs))
	for i, c := range refs {
		names[i] = c.svc.Ref.String()
	}
	return fmt.Sprintf("tcp port %d is used by %d services (%v); no outbound tcp listener, since a connection cannot say which it wants", port, len(refs), names)
}

// outbound builds everything the Envoy sidecars share.
func (t *translator) outbound() *Resources {
	rc := t.outboundHTTPRoutes()
	clusters, clas := t.outboundClusters()
	listeners := append([]*listener.Listener{outboundHTTPListener()}, t.outboundTCPListeners()...)
	sortListeners(listeners)
	return &Resources{Listeners: listeners, Routes: []*route.RouteConfiguration{rc}, Clusters: clusters, Endpoints: clas}
}
