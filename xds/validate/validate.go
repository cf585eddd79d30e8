package validate

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"

	"embassy.dev/embassy/xds/translate"
)

// refs collects the names resources reference, each with where it was
// referenced from, to be checked against what is served.
type refs struct {
	routeConfigs map[string][]string
	clusters     map[string][]string
	secrets      map[string][]string
}

func newRefs() *refs {
	return &refs{routeConfigs: map[string][]string{}, clusters: map[string][]string{}, secrets: map[string][]string{}}
}

func (r *refs) add(m map[string][]string, name, from string) {
	m[name] = append(m[name], from)
}

// merge adds o's references to r's.
func (r *refs) merge(o *refs) {
	for _, p := range []struct{ to, from map[string][]string }{
		{r.routeConfigs, o.routeConfigs}, {r.clusters, o.clusters}, {r.secrets, o.secrets},
	} {
		for name, froms := range p.from {
			p.to[name] = append(p.to[name], froms...)
		}
	}
}

// Resources runs ValidateAll on every resource and, recursively, on every
// Any inside it, then checks references: every RDS route_config_name a
// listener names (including inside api_listener and filter chains) and
// every route_configuration_name a scope (ScopedRouteConfiguration) names
// is served, every cluster a route (cluster / weighted_clusters /
// request_mirror_policies) or tcp_proxy
// names is served, every EDS cluster has a ClusterLoadAssignment served
// under its service_name (or cluster name), and every SDS secret named by a
// transport socket is served or in allowedExternalSecrets (secrets the
// sidecar's agent serves itself); no TlsCertificate anywhere carries a key
// or certificate. It returns all problems joined with
// errors.Join, or nil when the set is clean.
func Resources(r *translate.Resources, allowedExternalSecrets []string) error {
	if r == nil {
		return nil
	}
	var errs []error
	var reports []*Report
	Each(r, func(kind, name string, m proto.Message) {
		rep := Resource(kind, name, m, nil)
		reports = append(reports, rep)
		errs = append(errs, rep.Errs...)
	})
	return errors.Join(append(errs, Set(r, reports, allowedExternalSecrets))...)
}

// Report is what checking one resource on its own found: its problems
// (each a *Problem), and the names it references, which only its whole
// set can resolve.
// A resource's Report depends on its content alone, so a caller may keep
// it for as long as the content does not change.
type Report struct {
	Errs []error
	refs *refs
}

// Resource runs the checks of Resources that need only the resource
// itself: ValidateAll on it and on every Any inside it, and no key
// material; kind and name say which resource a problem is in. also, when
// not nil, is called on every message of the same walk with its path from
// the resource (".filter_chains[0]..."), so another checker of the
// resource needs no walk of its own: walking, not checking, is most of
// the cost.
func Resource(kind, name string, m proto.Message, also func(path string, m proto.Message)) *Report {
	rf := newRefs()
	from := kind + " " + name
	w := &walker{}
	w.visit = func(path string, m proto.Message) {
		collect(rf, from, m)
		if err := keyMaterial(m); err != nil {
			w.errs = append(w.errs, fmt.Errorf("%s (at %s): %w", from, path, err))
		}
		if also != nil {
			also(strings.TrimPrefix(path, from), m)
		}
	}
	w.validate(from, m)
	for i, err := range w.errs {
		w.errs[i] = &Problem{Resource: from, Err: err}
	}
	return &Report{Errs: w.errs, refs: rf}
}

// Set runs the checks of Resources that need the whole set, given the
// Report of each of its resources: no name served twice, and every name
// referenced served (or, for secrets, in allowedExternalSecrets). Each
// problem is a *Problem.
func Set(r *translate.Resources, reports []*Report, allowedExternalSecrets []string) error {
	errs := duplicates(r)
	errs = append(errs, References(reports, served(r).serves, r.Clusters, allowedExternalSecrets))
	return errors.Join(errs...)
}

// Serves reports whether a set serves the resource of kind (as Each names
// kinds) named name.
type Serves func(kind, name string) bool

// References is the reference check of Set over a set that serves what
// serves says: every name the reports' resources reference is served (or,
// for secrets, in allowedExternalSecrets), and so is the load assignment
// of each EDS cluster of clusters. It lets a set built on one already
// checked be checked for what it adds alone: the reports and clusters of
// its own resources, against the names of the whole. Each problem is a
// *Problem.
func References(reports []*Report, serves Serves, clusters []*cluster.Cluster, allowedExternalSecrets []string) error {
	rf := newRefs()
	for _, rep := range reports {
		rf.merge(rep.refs)
	}
	return errors.Join(missing(rf, serves, allowedExternalSecrets, clusters)...)
}

// Each calls f on every resource of a set, by kind ("Listener",
// "RouteConfiguration", "ScopedRouteConfiguration", "Cluster",
// "ClusterLoadAssignment", "Secret").
func Each(r *translate.Resources, f func(kind, name string, m proto.Message)) {
	for _, l := range r.Listeners {
		f("Listener", l.GetName(), l)
	}
	for _, rc := range r.Routes {
		f("RouteConfiguration", rc.GetName(), rc)
	}
	for _, sc := range r.ScopedRoutes {
		f("ScopedRouteConfiguration", sc.GetName(), sc)
	}
	for _, c := range r.Clusters {
		f("Cluster", c.GetName(), c)
	}
	for _, cla := range r.Endpoints {
		f("ClusterLoadAssignment", cla.GetClusterName(), cla)
	}
	for _, s := range r.Secrets {
		f("Secret", s.GetName(), s)
	}
}

// collect records the references one message makes.
func collect(rf *refs, from string, m proto.Message) {
	switch m := m.(type) {
	case *hcm.Rds:
		rf.add(rf.routeConfigs, m.GetRouteConfigName(), from)
	case *route.ScopedRouteConfiguration:
		// Envoy subscribes to the scope's RouteConfiguration and routes
		// the scope's requests to nothing until it arrives.
		if n := m.GetRouteConfigurationName(); n != "" {
			rf.add(rf.routeConfigs, n, from)
		}
	case *route.RouteAction:
		if c := m.GetCluster(); c != "" {
			rf.add(rf.clusters, c, from)
		}
		for _, wc := range m.GetWeightedClusters().GetClusters() {
			rf.add(rf.clusters, wc.GetName(), from)
		}
		for _, mp := range m.GetRequestMirrorPolicies() {
			rf.add(rf.clusters, mp.GetCluster(), from)
		}
	case *tcp.TcpProxy:
		if c := m.GetCluster(); c != "" {
			rf.add(rf.clusters, c, from)
		}
		for _, wc := range m.GetWeightedClusters().GetClusters() {
			rf.add(rf.clusters, wc.GetName(), from)
		}
	case *tls.SdsSecretConfig:
		rf.add(rf.secrets, m.GetName(), from)
	}
}

// servedNames are the names of each resource type in a set.
type servedNames struct {
	routeConfigs, clusters, assignments, secrets map[string]bool
}

func served(r *translate.Resources) servedNames {
	s := servedNames{map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}}
	for _, rc := range r.Routes {
		s.routeConfigs[rc.GetName()] = true
	}
	for _, c := range r.Clusters {
		s.clusters[c.GetName()] = true
	}
	for _, cla := range r.Endpoints {
		s.assignments[cla.GetClusterName()] = true
	}
	for _, sec := range r.Secrets {
		s.secrets[sec.GetName()] = true
	}
	return s
}

// serves looks a name up in the map of its kind.
func (s servedNames) serves(kind, name string) bool {
	switch kind {
	case "RouteConfiguration":
		return s.routeConfigs[name]
	case "Cluster":
		return s.clusters[name]
	case "ClusterLoadAssignment":
		return s.assignments[name]
	case "Secret":
		return s.secrets[name]
	}
	return false
}

// missing reports every referenced name that is not served, in sorted order.
func missing(rf *refs, serves Serves, external []string, clusters []*cluster.Cluster) []error {
	var errs []error
	report := func(what string, wanted map[string][]string, have func(string) bool) {
		for _, name := range slices.Sorted(maps.Keys(wanted)) {
			if !have(name) {
				from := uniq(wanted[name])
				errs = append(errs, &Problem{Resource: from[0], Err: fmt.Errorf("%s %q referenced by %s is not served", what, name, from)})
			}
		}
	}
	kind := func(what string) func(string) bool { return func(name string) bool { return serves(what, name) } }
	report("RouteConfiguration", rf.routeConfigs, kind("RouteConfiguration"))
	report("Cluster", rf.clusters, kind("Cluster"))
	report("Secret", rf.secrets, func(name string) bool { return slices.Contains(external, name) || serves("Secret", name) })
	for _, c := range clusters {
		if c.GetType() != cluster.Cluster_EDS {
			continue
		}
		name := c.GetEdsClusterConfig().GetServiceName()
		if name == "" {
			name = c.GetName()
		}
		if !serves("ClusterLoadAssignment", name) {
			errs = append(errs, &Problem{Resource: "Cluster " + c.GetName(), Err: fmt.Errorf("ClusterLoadAssignment %q for EDS Cluster %s is not served", name, c.GetName())})
		}
	}
	return errs
}

// duplicates reports two resources of one type with the same name: a client
// would keep only one of them, whichever came last.
func duplicates(r *translate.Resources) []error {
	var errs []error
	check := func(kind string, names []string) {
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] {
				errs = append(errs, &Problem{Resource: kind + " " + n, Err: fmt.Errorf("%s %q is served twice", kind, n)})
			}
			seen[n] = true
		}
	}
	var ls, rs, srs, cs, es, ss []string
	for _, x := range r.Listeners {
		ls = append(ls, x.GetName())
	}
	for _, x := range r.Routes {
		rs = append(rs, x.GetName())
	}
	for _, x := range r.ScopedRoutes {
		srs = append(srs, x.GetName())
	}
	for _, x := range r.Clusters {
		cs = append(cs, x.GetName())
	}
	for _, x := range r.Endpoints {
		es = append(es, x.GetClusterName())
	}
	for _, x := range r.Secrets {
		ss = append(ss, x.GetName())
	}
	check("Listener", ls)
	check("RouteConfiguration", rs)
	check("ScopedRouteConfiguration", srs)
	check("Cluster", cs)
	check("ClusterLoadAssignment", es)
	check("Secret", ss)
	return errs
}

// uniq lists the referrers of a name once each.
func uniq(from []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range from {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}
