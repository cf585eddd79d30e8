package translate

import (
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// proxylessClient builds what gRPC clients dialing xds:///<svc>.<ns>:<port>
// ask for: per HTTP-family service port, a Listener named exactly that
// target holding an api_listener, and a RouteConfiguration of the same name.
// gRPC asks for each resource by name, so names must match the target.
func (t *translator) proxylessClient() *Resources {
	out := &Resources{}
	for _, svc := range t.s.Services {
		for _, p := range svc.HTTPPorts() {
			name := hostPort(svc.Ref, p.Port)
			out.Listeners = append(out.Listeners, apiListener(name))
			out.Routes = append(out.Routes, routeConfiguration(name, []*route.VirtualHost{t.virtualHost(svc, p, []string{name})}))
		}
	}
	out.Clusters, out.Endpoints = t.outboundClusters()
	sortListeners(out.Listeners)
	sortRoutes(out.Routes)
	return out
}

// apiListener builds a proxyless client's Listener. stat_prefix is unused
// by gRPC but required by Envoy's validation rules, which every served
// resource passes. The fault filter, which gRPC implements, injects
// nothing until a route turns it on.
func apiListener(name string) *listener.Listener {
	h := httpConnectionManager(name, name, nil, faultFilter())
	return &listener.Listener{Name: name, ApiListener: &listener.ApiListener{ApiListener: toAny(h)}}
}
