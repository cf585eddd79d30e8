package whatif

import (
	"net/url"
	"regexp"
	"strings"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// RouteChoice is the rule that takes a request.
type RouteChoice struct {
	// Route is "<ns>/<name>" of the Route resource; empty for the
	// catch-all route of a port that no Route applies to.
	Route string `json:"route,omitempty"`
	// Rule is the rule's name, else its index; Match is the index of the
	// match that matched.
	Rule  string `json:"rule,omitempty"`
	Match int    `json:"match"`
	// Name is the Envoy route's name, as config dumps show it.
	Name string `json:"name"`
	// Backends are where the request may go, with their weights; empty
	// when the rule answers itself (Redirect or DirectResponse).
	Backends       []BackendChoice          `json:"backends,omitempty"`
	Redirect       *resource.Redirect       `json:"redirect,omitempty"`
	DirectResponse *resource.DirectResponse `json:"directResponse,omitempty"`
}

// BackendChoice is one weighted backend.
type BackendChoice struct {
	Service string            `json:"service"`
	Subset  map[string]string `json:"subset,omitempty"`
	Port    uint32            `json:"port"`
	// Cluster is the Envoy cluster, "outbound|<port>|<subset>|<svc>.<ns>".
	Cluster string `json:"cluster"`
	Weight  int32  `json:"weight"`
	// Endpoints is how many endpoints the subset holds.
	Endpoints int `json:"endpoints"`
}

// chooseRoute walks the port's rules as the translator orders them (Routes
// by name, then rule order, then match order) and returns the first that
// matches. Rules the translator leaves out (no reachable backend, every
// weight 0) are skipped here too.
func chooseRoute(snap *mesh.Snapshot, svc *mesh.Service, port resource.ServicePort, q Query) *RouteChoice {
	req := newRequest(q)
	applied := false
	for _, r := range snap.RoutesFor(svc.Ref) {
		if r.Spec.Port != 0 && r.Spec.Port != port.Port {
			continue
		}
		applied = true
		for i, rule := range r.Spec.Rules {
			backends, ok := ruleBackends(snap, r, rule, svc, port)
			if !ok {
				continue
			}
			for j, m := range mesh.RuleMatches(rule) {
				if !req.matches(m) {
					continue
				}
				return &RouteChoice{
					Route: r.Namespace + "/" + r.Name, Rule: mesh.RuleLabel(i, rule), Match: j, Name: mesh.RouteName(r, i, rule, j),
					Backends: backends, Redirect: rule.Redirect, DirectResponse: rule.DirectResponse,
				}
			}
		}
	}
	if applied {
		return nil
	}
	return &RouteChoice{Name: mesh.CatchAllRouteName, Backends: []BackendChoice{backend(mesh.Cluster{Service: svc, Port: port}, 1)}}
}

// ruleBackends resolves a rule's backends as the translator does; ok is
// false when the translator leaves the rule out.
func ruleBackends(snap *mesh.Snapshot, r *mesh.Route, rule resource.RouteRule, svc *mesh.Service, port resource.ServicePort) ([]BackendChoice, bool) {
	if rule.Redirect != nil || rule.DirectResponse != nil {
		return nil, true
	}
	var out []BackendChoice
	var total int64
	for _, b := range mesh.RuleBackends(rule) {
		c, err := snap.BackendCluster(r, b, svc, port)
		if err != nil {
			continue
		}
		w := mesh.BackendWeight(b)
		total += int64(w)
		out = append(out, backend(c, w))
	}
	return out, len(out) > 0 && total > 0
}

func backend(c mesh.Cluster, w int32) BackendChoice {
	return BackendChoice{
		Service: c.Service.Ref.String(), Subset: c.Subset, Port: c.Port.Port, Weight: w,
		Cluster: c.Name(), Endpoints: len(c.Endpoints()),
	}
}

// request is a Query as route matching sees it: the path without its
// query (Envoy matches paths without it), the query's parameters, and
// lower-case header names with :method.
type request struct {
	path    string
	query   url.Values
	headers map[string]string
}

func newRequest(q Query) request {
	path, rawQuery, _ := strings.Cut(q.Path, "?")
	query, _ := url.ParseQuery(rawQuery)
	h := map[string]string{":method": q.Method, ":path": q.Path}
	for k, v := range q.Headers {
		h[strings.ToLower(k)] = v
	}
	return request{path: path, query: query, headers: h}
}

// matches applies one RouteMatch: its conditions are ANDed.
func (r request) matches(m resource.RouteMatch) bool {
	switch {
	case m.GRPC != nil && m.GRPC.Method != "":
		if r.path != "/"+m.GRPC.Service+"/"+m.GRPC.Method {
			return false
		}
	case m.GRPC != nil:
		if !strings.HasPrefix(r.path, "/"+m.GRPC.Service+"/") {
			return false
		}
	case m.Path != nil && m.Path.Exact != "":
		if r.path != m.Path.Exact {
			return false
		}
	case m.Path != nil && m.Path.Prefix != "":
		if !strings.HasPrefix(r.path, m.Path.Prefix) {
			return false
		}
	case m.Path != nil && m.Path.Regex != "":
		if !fullMatch(m.Path.Regex, r.path) {
			return false
		}
	}
	if m.Method != "" && r.headers[":method"] != m.Method {
		return false
	}
	for _, h := range m.Headers {
		if !r.header(h) {
			return false
		}
	}
	for _, p := range m.QueryParams {
		vs, ok := r.query[p.Name]
		switch {
		case !ok:
			return false
		case p.Exact != "" && vs[0] != p.Exact:
			return false
		case p.Regex != "" && !fullMatch(p.Regex, vs[0]):
			return false
		}
	}
	return true
}

// header applies one HeaderMatch as Envoy's HeaderMatcher does. Absence
// is presence inverted (as the translator writes it); a missing header
// never matches a value matcher, inverted or not.
func (r request) header(h resource.HeaderMatch) bool {
	v, present := r.headers[strings.ToLower(h.Name)]
	var ok bool
	switch {
	case h.Exact != "":
		ok = v == h.Exact
	case h.Prefix != "":
		ok = strings.HasPrefix(v, h.Prefix)
	case h.Suffix != "":
		ok = strings.HasSuffix(v, h.Suffix)
	case h.Regex != "":
		ok = fullMatch(h.Regex, v)
	case h.Absent:
		return present == h.Invert
	default:
		return present != h.Invert
	}
	return present && ok != h.Invert
}

// fullMatch is Envoy's safe_regex: RE2 matching the whole string.
func fullMatch(re, s string) bool {
	rx, err := regexp.Compile("^(?:" + re + ")$")
	return err == nil && rx.MatchString(s)
}
