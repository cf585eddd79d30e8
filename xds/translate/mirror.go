package translate

import (
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// mirror sends a copy of a share of a rule's requests to another cluster,
// whose answers are dropped. The mirror's cluster is resolved like a
// backend, so a subset cluster it needs is generated and served. gRPC does
// not mirror: proxyless clients get a Diagnostic and no mirror policy.
func (t *translator) mirror(action *route.RouteAction, r *mesh.Route, i int, rule resource.RouteRule, svc *mesh.Service, port resource.ServicePort) {
	m := rule.Mirror
	if m == nil {
		return
	}
	if t.flavour == Proxyless {
		t.diag(resource.KindRoute, r.Namespace, r.Name, "rule %s: mirror is not supported by proxyless gRPC; it applies to Envoy sidecars only", ruleLabel(i, rule))
		return
	}
	c, ok := t.backendCluster(r, resource.Backend{Service: m.Service, Subset: m.Subset}, svc, port)
	if !ok {
		return
	}
	action.RequestMirrorPolicies = []*route.RouteAction_RequestMirrorPolicy{{
		Cluster:         c.name(),
		RuntimeFraction: runtimeFraction(m.Percent),
	}}
}
