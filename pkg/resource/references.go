package resource

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// CheckReferences checks a complete resource set (what the store would hold
// after an apply) for cross-resource problems. Errors (returned as *Errors)
// are fatal; warnings are returned as human strings, sorted. Problems that
// may resolve themselves, such as a Workload registered before its Service,
// are warnings.
func CheckReferences(all []*Resource) (warnings []string, err error) {
	c := newRefChecker(all)
	c.meshes()
	for _, r := range c.sorted {
		switch spec := r.Spec.(type) {
		case *RouteSpec:
			c.route(r, spec)
		case *WorkloadSpec:
			c.workload(r, spec)
			c.egress(r, spec.Egress)
		case *ServiceSpec:
			c.egress(r, spec.Egress)
		case *AuthorizationPolicySpec:
			c.authorizationPolicy(r, spec)
		}
	}
	c.trafficPolicies()
	c.routeOverlaps()
	for _, e := range Exclusions(all) {
		c.warnf(e.Workload, e.Path(), "%s; it gets no traffic from that service", e.Reason())
	}
	sort.Strings(c.warnings)
	return c.warnings, c.errs.orNil()
}

// refChecker indexes a resource set for reference checks.
type refChecker struct {
	sorted    []*Resource
	services  map[nsName]*ServiceSpec
	workloads map[string][]*WorkloadSpec // by namespace
	errs      Errors
	warnings  []string
}

// nsName is a namespaced name.
type nsName struct{ namespace, name string }

// String renders the name as name.namespace, the form clients dial.
func (n nsName) String() string { return n.name + "." + n.namespace }

// newRefChecker sorts the set by key, so problems come in a stable order,
// and indexes services and workloads.
func newRefChecker(all []*Resource) *refChecker {
	c := &refChecker{services: map[nsName]*ServiceSpec{}, workloads: map[string][]*WorkloadSpec{}}
	for _, r := range all {
		if r != nil {
			c.sorted = append(c.sorted, r)
		}
	}
	sort.SliceStable(c.sorted, func(i, j int) bool { return keyLess(c.sorted[i].Key(), c.sorted[j].Key()) })
	for _, r := range c.sorted {
		switch spec := r.Spec.(type) {
		case *ServiceSpec:
			c.services[nsName{r.Metadata.Namespace, r.Metadata.Name}] = spec
		case *WorkloadSpec:
			c.workloads[r.Metadata.Namespace] = append(c.workloads[r.Metadata.Namespace], spec)
		}
	}
	return c
}

// keyLess orders keys by kind (in Kinds order), namespace, then name.
func keyLess(a, b Key) bool {
	if a.Kind != b.Kind {
		return slices.Index(Kinds, a.Kind) < slices.Index(Kinds, b.Kind)
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}

// warnf records a warning about r, prefixed with its kind and name.
func (c *refChecker) warnf(r *Resource, path, format string, args ...any) {
	name := r.Metadata.Name
	if r.Metadata.Namespace != "" {
		name = r.Metadata.Namespace + "/" + name
	}
	c.warnings = append(c.warnings, fmt.Sprintf("%s %s: %s %s", r.Kind, name, path, fmt.Sprintf(format, args...)))
}

// meshes refuses a second Mesh: mesh-wide settings must have one source.
func (c *refChecker) meshes() {
	var names []string
	for _, r := range c.sorted {
		if r.Kind == KindMesh {
			names = append(names, r.Metadata.Name)
		}
	}
	if len(names) < 2 {
		return
	}
	for _, r := range c.sorted {
		if r.Kind == KindMesh && r.Metadata.Name != names[0] {
			c.errs.add(subjectOf(r), "", "there can be only one Mesh, but Meshes %s are defined; delete all but one", strings.Join(names, ", "))
		}
	}
}

// route checks that a Route's service, port and backends exist.
func (c *refChecker) route(r *Resource, s *RouteSpec) {
	ns := r.Metadata.Namespace
	svc, ok := c.services[nsName{ns, s.Service}]
	if !ok {
		c.errs.add(subjectOf(r), "spec.service", "service %s does not exist; apply its Service first or fix the name", nsName{ns, s.Service})
		return
	}
	c.routePort(r, s, svc)
	for i, rule := range s.Rules {
		for j, b := range rule.Backends {
			c.target(r, fmt.Sprintf("spec.rules[%d].backends[%d]", i, j), b.Service, b.Subset)
		}
		if m := rule.Mirror; m != nil {
			c.target(r, fmt.Sprintf("spec.rules[%d].mirror", i), m.Service, m.Subset)
		}
	}
}

// target checks that the service a Route's backend or mirror sends to
// exists: the named one, else the Route's own. Its subset may match no
// workload until the workloads register, so that is only a warning.
func (c *refChecker) target(r *Resource, path, service string, subset map[string]string) {
	name := nsName{r.Metadata.Namespace, r.Spec.(*RouteSpec).Service}
	if service != "" {
		name.name = service
	}
	svc, ok := c.services[name]
	if !ok {
		c.errs.add(subjectOf(r), path+".service", "service %s does not exist; apply its Service first or fix the name", name)
		return
	}
	if len(subset) > 0 && !c.subsetMatches(name, svc, subset) {
		c.warnf(r, path+".subset", "%s matches no workload of service %s yet", formatLabels(subset), name)
	}
}

// routeOverlaps refuses two Routes for the same port of a service (port 0
// meaning every port): which of their rules came first would depend on
// the Routes' names, which nobody reads as an order.
func (c *refChecker) routeOverlaps() {
	var seen []*Resource
	for _, r := range c.sorted {
		s, ok := r.Spec.(*RouteSpec)
		if !ok {
			continue
		}
		for _, prev := range seen {
			ps := prev.Spec.(*RouteSpec)
			if prev.Metadata.Namespace != r.Metadata.Namespace || ps.Service != s.Service {
				continue
			}
			if ps.Port != 0 && s.Port != 0 && ps.Port != s.Port {
				continue
			}
			c.errs.add(subjectOf(r), "spec.service", "Routes %s and %s both apply to %s of service %s; a service port takes one Route, so merge their rules (in the order they should be tried) into one",
				prev.Metadata.Name, r.Metadata.Name, portScope(ps.Port, s.Port), nsName{r.Metadata.Namespace, s.Service})
			break
		}
		seen = append(seen, r)
	}
}

// portScope says which ports two overlapping Routes share.
func portScope(a, b uint32) string {
	if p := max(a, b); p != 0 {
		return fmt.Sprintf("port %d", p)
	}
	return "every port"
}

// routePort checks that a Route applies to an HTTP-family port.
func (c *refChecker) routePort(r *Resource, s *RouteSpec, svc *ServiceSpec) {
	name := nsName{r.Metadata.Namespace, s.Service}
	if s.Port != 0 {
		for _, p := range svc.Ports {
			if p.Port == s.Port {
				if p.Protocol == ProtocolTCP {
					c.errs.add(subjectOf(r), "spec.port", "port %d of service %s is tcp; Routes apply only to http, http2 and grpc ports", s.Port, name)
				}
				return
			}
		}
		c.errs.add(subjectOf(r), "spec.port", "%d is not a port of service %s (ports: %s)", s.Port, name, portNames(svc))
		return
	}
	for _, p := range svc.Ports {
		if p.Protocol != ProtocolTCP {
			return
		}
	}
	c.errs.add(subjectOf(r), "spec.service", "service %s has only tcp ports; Routes apply only to http, http2 and grpc ports", name)
}

// subsetMatches reports whether any endpoint of the service, static or a
// Workload backing it, carries every label of subset.
func (c *refChecker) subsetMatches(name nsName, svc *ServiceSpec, subset map[string]string) bool {
	for _, e := range svc.Endpoints {
		if LabelsMatch(e.Labels, subset) {
			return true
		}
	}
	for _, w := range c.workloads[name.namespace] {
		if slices.Contains(w.Services, name.name) && LabelsMatch(w.Labels, subset) {
			return true
		}
	}
	return false
}

// workload warns about services a Workload names that do not exist yet,
// and port names none of its services has.
func (c *refChecker) workload(r *Resource, s *WorkloadSpec) {
	ns := r.Metadata.Namespace
	var existing []*ServiceSpec
	var names []string
	for i, svcName := range s.Services {
		name := nsName{ns, svcName}
		if svc, ok := c.services[name]; ok {
			existing = append(existing, svc)
			names = append(names, name.String())
		} else {
			c.warnf(r, fmt.Sprintf("spec.services[%d]", i), "service %s does not exist yet", name)
		}
	}
	if len(existing) == 0 {
		return
	}
	for i, p := range s.Ports {
		found := false
		for _, svc := range existing {
			for _, sp := range svc.Ports {
				found = found || sp.Name == p.Name
			}
		}
		if !found {
			c.warnf(r, fmt.Sprintf("spec.ports[%d].name", i), "port name %q is not a port of service %s", p.Name, strings.Join(names, ", "))
		}
	}
}

// authorizationPolicy warns about target services that do not exist yet.
func (c *refChecker) authorizationPolicy(r *Resource, s *AuthorizationPolicySpec) {
	for i, svcName := range s.Targets.Services {
		name := nsName{r.Metadata.Namespace, svcName}
		if _, ok := c.services[name]; !ok {
			c.warnf(r, fmt.Sprintf("spec.targets.services[%d]", i), "service %s does not exist yet", name)
		}
	}
}

// trafficPolicies checks that each TrafficPolicy targets an existing
// service and that no service has two: their settings would conflict.
func (c *refChecker) trafficPolicies() {
	first := map[nsName]*Resource{}
	for _, r := range c.sorted {
		s, ok := r.Spec.(*TrafficPolicySpec)
		if !ok {
			continue
		}
		name := nsName{r.Metadata.Namespace, s.Service}
		if _, ok := c.services[name]; !ok {
			c.errs.add(subjectOf(r), "spec.service", "service %s does not exist; apply its Service first or fix the name", name)
			continue
		}
		if prev, dup := first[name]; dup {
			c.errs.add(subjectOf(r), "spec.service", "service %s already has TrafficPolicy %s/%s; a service takes one TrafficPolicy, so merge TrafficPolicies %s and %s",
				name, prev.Metadata.Namespace, prev.Metadata.Name, prev.Metadata.Name, r.Metadata.Name)
			continue
		}
		first[name] = r
	}
}

// formatLabels renders labels as {k1=v1,k2=v2}, sorted.
func formatLabels(m map[string]string) string {
	pairs := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		pairs = append(pairs, k+"="+m[k])
	}
	return "{" + strings.Join(pairs, ",") + "}"
}
