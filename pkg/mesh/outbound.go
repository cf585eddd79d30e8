package mesh

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"embassy.dev/embassy/pkg/resource"
)

// What a Route's rule resolves to on the outbound side: its matches, its
// backends with their weights, the service port and subset each backend
// reaches, that cluster's name and endpoints, and the route's name. The
// translator builds Envoy routes from these and pkg/whatif explains them,
// so both read one derivation and cannot drift apart.

// IsHTTPFamily reports whether a port protocol is routed by HTTP rules.
func IsHTTPFamily(protocol string) bool {
	switch protocol {
	case resource.ProtocolHTTP, resource.ProtocolHTTP2, resource.ProtocolGRPC:
		return true
	}
	return false
}

// HTTPPorts returns the service's HTTP-family ports in declaration order.
func (s *Service) HTTPPorts() []resource.ServicePort {
	var out []resource.ServicePort
	for _, p := range s.Spec.Ports {
		if IsHTTPFamily(p.Protocol) {
			out = append(out, p)
		}
	}
	return out
}

// BackendPort picks the port of a backend service that a rule on port
// number want sends to: the same port number when the backend has it as an
// HTTP-family port, else its first HTTP-family port.
func (s *Service) BackendPort(want uint32) (resource.ServicePort, bool) {
	ports := s.HTTPPorts()
	for _, p := range ports {
		if p.Port == want {
			return p, true
		}
	}
	if len(ports) > 0 {
		return ports[0], true
	}
	return resource.ServicePort{}, false
}

// Cluster is one outbound cluster: a service port, optionally narrowed to
// the endpoints whose labels include Subset.
type Cluster struct {
	Service *Service
	Port    resource.ServicePort
	Subset  map[string]string
}

// Name is the cluster's name, outbound|<port>|<subset>|<svc>.<ns>, with
// the subset written as SubsetKey writes it.
func (c Cluster) Name() string {
	return fmt.Sprintf("outbound|%d|%s|%s", c.Port.Port, SubsetKey(c.Subset), c.Service.Ref)
}

// Endpoints are the cluster's endpoints: those that serve its port and
// carry every subset label.
func (c Cluster) Endpoints() []Endpoint {
	var out []Endpoint
	for _, ep := range c.Service.Endpoints {
		if ep.Ports[c.Port.Name] != 0 && resource.LabelsMatch(ep.Labels, c.Subset) {
			out = append(out, ep)
		}
	}
	return out
}

// SubsetKey renders labels as sorted k=v pairs joined by commas, so the
// same subset always gets the same cluster name whatever order it was
// written in.
func SubsetKey(subset map[string]string) string {
	keys := slices.Sorted(maps.Keys(subset))
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = k + "=" + subset[k]
	}
	return strings.Join(pairs, ",")
}

// RuleMatches are a rule's matches; a rule without any matches every
// request, as one empty match does.
func RuleMatches(rule resource.RouteRule) []resource.RouteMatch {
	if len(rule.Matches) == 0 {
		return []resource.RouteMatch{{}}
	}
	return rule.Matches
}

// RuleBackends are a rule's backends; a rule without any sends to the
// Route's own service, as one empty backend does.
func RuleBackends(rule resource.RouteRule) []resource.Backend {
	if len(rule.Backends) == 0 {
		return []resource.Backend{{}}
	}
	return rule.Backends
}

// BackendWeight is a backend's share of its rule's traffic: 1 when
// unset, and never below 0.
func BackendWeight(b resource.Backend) int32 {
	if b.Weight == nil {
		return 1
	}
	return max(*b.Weight, 0)
}

// BackendCluster resolves a backend of Route r's rule on port of svc to
// its cluster: the backend's service (svc itself when unnamed) in r's
// namespace, on the port BackendPort picks, narrowed to its subset. The
// error says why a backend cannot be reached.
func (s *Snapshot) BackendCluster(r *Route, b resource.Backend, svc *Service, port resource.ServicePort) (Cluster, error) {
	if b.Service == "" || b.Service == svc.Ref.Name {
		return Cluster{Service: svc, Port: port, Subset: b.Subset}, nil
	}
	target := s.Service(ServiceRef{Namespace: r.Namespace, Name: b.Service})
	if target == nil {
		return Cluster{}, fmt.Errorf("backend service %s.%s does not exist", b.Service, r.Namespace)
	}
	tport, ok := target.BackendPort(port.Port)
	if !ok {
		return Cluster{}, fmt.Errorf("backend service %s has no http, http2 or grpc port", target.Ref)
	}
	return Cluster{Service: target, Port: tport, Subset: b.Subset}, nil
}

// RuleLabel names rule i of a Route: its name, else its index.
func RuleLabel(i int, rule resource.RouteRule) string {
	if rule.Name != "" {
		return rule.Name
	}
	return strconv.Itoa(i)
}

// CatchAllRouteName names the one route of a service port that no Route
// applies to, which sends every request to the whole service.
const CatchAllRouteName = "default"

// RouteName names the route made of match j of rule i of r, as config
// dumps and stats show it: <ns>/<route>/<rule>, with /<j> when the rule
// has several matches.
func RouteName(r *Route, i int, rule resource.RouteRule, j int) string {
	name := r.Namespace + "/" + r.Name + "/" + RuleLabel(i, rule)
	if len(rule.Matches) > 1 {
		name += "/" + strconv.Itoa(j)
	}
	return name
}
