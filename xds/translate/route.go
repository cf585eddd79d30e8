package translate

import (
	"sort"
	"strconv"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// routeConfiguration builds a RouteConfiguration from virtual hosts.
func routeConfiguration(name string, vhosts []*route.VirtualHost) *route.RouteConfiguration {
	return &route.RouteConfiguration{Name: name, VirtualHosts: vhosts}
}

// virtualHost builds the virtual host of one service port.
func (t *translator) virtualHost(svc *mesh.Service, port resource.ServicePort, domains []string) *route.VirtualHost {
	return &route.VirtualHost{Name: hostPort(svc.Ref, port.Port), Domains: domains, Routes: t.routes(svc, port)}
}

// routes builds the routes of a service port from its Routes' rules in
// order (Routes by name), so the first matching rule wins. A port that no
// Route applies to gets one catch-all route to the whole service.
func (t *translator) routes(svc *mesh.Service, port resource.ServicePort) []*route.Route {
	var out []*route.Route
	applied := false
	for _, r := range t.s.RoutesFor(svc.Ref) {
		if r.Spec.Port != 0 && r.Spec.Port != port.Port {
			continue
		}
		applied = true
		for _, problem := range r.Problems {
			t.diag(resource.KindRoute, r.Namespace, r.Name, "%s", problem)
		}
		for i, rule := range r.Spec.Rules {
			for j, m := range mesh.RuleMatches(rule) {
				rt := t.ruleRoute(r, i, rule, svc, port)
				if rt == nil {
					break
				}
				rt.Name = mesh.RouteName(r, i, rule, j)
				rt.Match = routeMatch(m)
				if t.flavour == Proxyless && usesQueryParams(m) {
					t.diag(resource.KindRoute, r.Namespace, r.Name, "rule %s matches query parameters, which proxyless gRPC does not support: gRPC skips that match", ruleLabel(i, rule))
				}
				out = append(out, t.splitHeaderFault(rt, rule)...)
			}
		}
	}
	if !applied {
		c := clusterRef{svc: svc, port: port}
		out = append(out, &route.Route{
			Name:   mesh.CatchAllRouteName,
			Match:  routeMatch(resource.RouteMatch{}),
			Action: &route.Route_Route{Route: t.finishAction(&route.RouteAction{ClusterSpecifier: &route.RouteAction_Cluster{Cluster: c.name()}}, []*mesh.Service{svc})},
		})
	}
	return out
}

// ruleRoute builds the route of a rule, without its name and match: a
// redirect, a direct response, or a forwarding action, with the rule's
// per-route filter settings and header edits. It returns nil (with a
// diagnostic) when the rule can reach none of its backends.
func (t *translator) ruleRoute(r *mesh.Route, i int, rule resource.RouteRule, svc *mesh.Service, port resource.ServicePort) *route.Route {
	out := &route.Route{}
	switch {
	case rule.Redirect != nil:
		out.Action = &route.Route_Redirect{Redirect: redirectAction(rule.Redirect)}
		t.proxylessAnswerDiag(r, i, rule, "redirect")
	case rule.DirectResponse != nil:
		out.Action = &route.Route_DirectResponse{DirectResponse: directResponseAction(rule.DirectResponse)}
		t.proxylessAnswerDiag(r, i, rule, "directResponse")
	default:
		action := t.routeAction(r, i, rule, svc, port)
		if action == nil {
			return nil
		}
		out.Action = &route.Route_Route{Route: action}
	}
	t.headerEdits(out, r, i, rule)
	t.perFilterConfig(out, r, i, rule)
	return out
}

// proxylessAnswerDiag warns that gRPC fails the RPCs of a rule that
// answers itself: it only forwards.
func (t *translator) proxylessAnswerDiag(r *mesh.Route, i int, rule resource.RouteRule, field string) {
	if t.flavour == Proxyless {
		t.diag(resource.KindRoute, r.Namespace, r.Name, "rule %s: %s is not supported by proxyless gRPC; its matching RPCs fail with UNAVAILABLE", ruleLabel(i, rule), field)
	}
}

// routeAction builds where a rule sends requests, or nil (with a
// diagnostic) when none of its backends can be reached.
func (t *translator) routeAction(r *mesh.Route, i int, rule resource.RouteRule, svc *mesh.Service, port resource.ServicePort) *route.RouteAction {
	var weighted []*route.WeightedCluster_ClusterWeight
	var targets []*mesh.Service
	var total int64
	for _, b := range mesh.RuleBackends(rule) {
		c, ok := t.backendCluster(r, b, svc, port)
		if !ok {
			continue
		}
		w := mesh.BackendWeight(b)
		total += int64(w)
		weighted = append(weighted, &route.WeightedCluster_ClusterWeight{Name: c.name(), Weight: wrapperspb.UInt32(uint32(w))})
		targets = append(targets, c.svc)
	}
	switch {
	case len(weighted) == 0:
		t.diag(resource.KindRoute, r.Namespace, r.Name, "rule %s has no reachable backend; it is left out", ruleLabel(i, rule))
		return nil
	case total == 0:
		t.diag(resource.KindRoute, r.Namespace, r.Name, "rule %s gives every backend weight 0; it is left out", ruleLabel(i, rule))
		return nil
	}
	action := &route.RouteAction{}
	if len(weighted) == 1 {
		action.ClusterSpecifier = &route.RouteAction_Cluster{Cluster: weighted[0].Name}
	} else {
		action.ClusterSpecifier = &route.RouteAction_WeightedClusters{WeightedClusters: &route.WeightedCluster{Clusters: weighted}}
	}
	t.ruleTimeouts(action, r, r.Times(i))
	t.retryPolicy(action, rule, r.Times(i))
	t.mirror(action, r, i, rule, svc, port)
	t.rewrite(action, r, i, rule)
	return t.finishAction(action, targets)
}

// ruleLabel names a rule in diagnostics: its name, else its index.
func ruleLabel(i int, rule resource.RouteRule) string {
	if rule.Name != "" {
		return strconv.Quote(rule.Name)
	}
	return strconv.Itoa(i)
}

// backendCluster resolves a backend to a cluster and records the subset
// clusters routes need.
func (t *translator) backendCluster(r *mesh.Route, b resource.Backend, svc *mesh.Service, port resource.ServicePort) (clusterRef, bool) {
	mc, err := t.s.BackendCluster(r, b, svc, port)
	if err != nil {
		t.diag(resource.KindRoute, r.Namespace, r.Name, "%v; backend left out", err)
		return clusterRef{}, false
	}
	c := clusterRef{svc: mc.Service, port: mc.Port, subset: mc.Subset}
	if len(b.Subset) > 0 {
		t.subsets[c.name()] = c
		if len(mc.Endpoints()) == 0 {
			t.diag(resource.KindRoute, r.Namespace, r.Name, "backend subset %s of %s port %d has no endpoints; requests sent to it fail", mesh.SubsetKey(b.Subset), mc.Service.Ref, mc.Port.Port)
		}
	}
	return c, true
}

// ruleTimeouts applies a rule's timeouts. gRPC ignores route.timeout and
// honours max_stream_duration instead, so proxyless clients get both.
func (t *translator) ruleTimeouts(action *route.RouteAction, r *mesh.Route, times mesh.RuleTimes) {
	if times.Timeout > 0 {
		d := durationpb.New(times.Timeout)
		action.Timeout = d
		if t.flavour == Proxyless {
			action.MaxStreamDuration = &route.RouteAction_MaxStreamDuration{MaxStreamDuration: d}
		}
	}
	if times.IdleTimeout > 0 {
		action.IdleTimeout = durationpb.New(times.IdleTimeout)
		if t.flavour == Proxyless {
			t.diag(resource.KindRoute, r.Namespace, r.Name, "idleTimeout is not supported by proxyless gRPC; it is ignored there")
		}
	}
}

// finishAction adds what every action needs: the hash policies of the
// target services that hash, and for Envoy a disabled route timeout unless
// the rule set one (Envoy's default of 15s would cut gRPC streams).
func (t *translator) finishAction(action *route.RouteAction, targets []*mesh.Service) *route.RouteAction {
	action.HashPolicy = t.hashPolicies(targets)
	if t.flavour == Envoy && action.Timeout == nil {
		action.Timeout = durationpb.New(0)
	}
	return action
}

// sortRoutes orders route configurations by name.
func sortRoutes(rs []*route.RouteConfiguration) {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].GetName() < rs[j].GetName() })
}
