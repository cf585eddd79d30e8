package translate

import (
	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// Scope narrows shared resources (Outbound's or ProxylessClient's, for
// any flavour) to what a proxy with visibility v is sent: the virtual
// hosts of the sidecar's shared outbound RouteConfiguration, or its
// per-service scopes and RouteConfigurations; proxyless Listeners and
// RouteConfigurations, tcp listeners, Clusters and
// ClusterLoadAssignments of the services it sees, and every Cluster a
// kept route still names, so the result is reference-complete by
// construction. Nothing is copied: kept resources are r's own, and only
// the shared outbound RouteConfiguration is rebuilt (around r's virtual
// hosts). A request for a service the proxy does not see finds no virtual
// host (or no scope), a 404 as for an unknown host. With v.All it returns
// r itself.
func Scope(s *mesh.Snapshot, r *Resources, v *mesh.Visibility) *Resources {
	if v == nil || v.All || r == nil {
		return r
	}
	names := visibleNames(s, v)
	out := &Resources{Secrets: r.Secrets, ExtensionConfigs: r.ExtensionConfigs}
	for _, l := range r.Listeners {
		if l.GetName() == OutboundHTTPName || names[l.GetName()] {
			out.Listeners = append(out.Listeners, l)
		}
	}
	for _, rc := range r.Routes {
		switch {
		case rc.GetName() == OutboundHTTPName:
			out.Routes = append(out.Routes, scopeVirtualHosts(rc, names))
		case names[rc.GetName()]:
			out.Routes = append(out.Routes, rc)
		}
	}
	for _, sc := range r.ScopedRoutes {
		if names[sc.GetName()] {
			out.ScopedRoutes = append(out.ScopedRoutes, sc)
		}
	}
	for _, rc := range out.Routes {
		for _, vh := range rc.GetVirtualHosts() {
			for _, rt := range vh.GetRoutes() {
				for _, c := range routeClusters(rt.GetRoute()) {
					names[c] = true
				}
			}
		}
	}
	out.Clusters, out.Endpoints = scopeClusters(r.Clusters, r.Endpoints, names)
	return out
}

// visibleNames are the names the visible services' resources carry: the
// sidecar's outbound scope and RouteConfiguration, per HTTP-family port
// the host:port that names a proxyless Listener and RouteConfiguration,
// per tcp port the outbound listener's name, and per port the service's
// cluster.
func visibleNames(s *mesh.Snapshot, v *mesh.Visibility) map[string]bool {
	names := map[string]bool{}
	for _, svc := range s.Services {
		if !v.Sees(svc.Ref) {
			continue
		}
		names[OutboundRouteName(svc.Ref)] = true
		for _, p := range svc.Spec.Ports {
			names[mesh.Cluster{Service: svc, Port: p}.Name()] = true
			if p.Protocol == resource.ProtocolTCP {
				names[outboundTCPName(svc.Ref, p.Port)] = true
			} else {
				names[hostPort(svc.Ref, p.Port)] = true
			}
		}
	}
	return names
}

// scopeVirtualHosts is the sidecar's shared outbound RouteConfiguration
// with only the virtual hosts named in names.
func scopeVirtualHosts(rc *route.RouteConfiguration, names map[string]bool) *route.RouteConfiguration {
	var vhosts []*route.VirtualHost
	for _, vh := range rc.GetVirtualHosts() {
		if names[vh.GetName()] {
			vhosts = append(vhosts, vh)
		}
	}
	return routeConfiguration(rc.GetName(), vhosts)
}

// routeClusters are the clusters a route action sends to or mirrors to.
func routeClusters(a *route.RouteAction) []string {
	var out []string
	if c := a.GetCluster(); c != "" {
		out = append(out, c)
	}
	for _, wc := range a.GetWeightedClusters().GetClusters() {
		out = append(out, wc.GetName())
	}
	for _, m := range a.GetRequestMirrorPolicies() {
		out = append(out, m.GetCluster())
	}
	return out
}

// scopeClusters keeps the clusters named in names and the
// ClusterLoadAssignment each kept EDS cluster reads.
func scopeClusters(cs []*cluster.Cluster, clas []*endpoint.ClusterLoadAssignment, names map[string]bool) ([]*cluster.Cluster, []*endpoint.ClusterLoadAssignment) {
	var kept []*cluster.Cluster
	eds := map[string]bool{}
	for _, c := range cs {
		if !names[c.GetName()] {
			continue
		}
		kept = append(kept, c)
		name := c.GetEdsClusterConfig().GetServiceName()
		if name == "" {
			name = c.GetName()
		}
		eds[name] = true
	}
	var keptCLAs []*endpoint.ClusterLoadAssignment
	for _, cla := range clas {
		if eds[cla.GetClusterName()] {
			keptCLAs = append(keptCLAs, cla)
		}
	}
	return kept, keptCLAs
}
