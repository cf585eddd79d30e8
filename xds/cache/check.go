package cache

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/xds/envoyrules"
	"embassy.dev/embassy/xds/translate"
	"embassy.dev/embassy/xds/validate"
)

// checkedKinds names the resource types the checks look at, as the
// checks' messages name them. Extension configs carry authorization
// bundles to agents; Envoy never loads them.
var checkedKinds = map[resourcev3.Type]string{
	resourcev3.ListenerType:    "Listener",
	resourcev3.RouteType:       "RouteConfiguration",
	resourcev3.ScopedRouteType: "ScopedRouteConfiguration",
	resourcev3.ClusterType:     "Cluster",
	resourcev3.EndpointType:    "ClusterLoadAssignment",
	resourcev3.SecretType:      "Secret",
}

// checks is the last gate before a set reaches a node: the protos'
// validation and the reference check (package validate), then the rules
// Envoy applies when it loads configuration (package envoyrules). A set
// that fails is never served; the node keeps the last set it was given.
//
// What can be decided from one resource alone is kept by content hash,
// since a shape's set is mostly the outbound resources every other shape
// shares, and most resources are the same from one push to the next:
// only the checks across a set run per shape. Results live for two
// generations (rotate), so the memory follows the mesh, not its history.
// It is safe for concurrent use.
type checks struct {
	mu        sync.Mutex
	prev, cur map[string]*checked
	// prevSets and curSets are the results of the checks across sets,
	// by setKey.
	prevSets, curSets map[string]error
}

// checked is what the one-resource checks found in one resource content.
type checked struct {
	report     *validate.Report
	violations envoyrules.Violations
}

func newChecks() *checks {
	return &checks{prev: map[string]*checked{}, cur: map[string]*checked{}, prevSets: map[string]error{}, curSets: map[string]error{}}
}

// rotate starts a generation: results not used since the previous one are
// dropped.
func (c *checks) rotate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prev, c.cur = c.cur, map[string]*checked{}
	c.prevSets, c.curSets = c.curSets, map[string]error{}
}

// resource is the one-resource result for a content, computed once.
func (c *checks) resource(kind, name, hash string, m types.Resource) *checked {
	key := kind + "\x00" + name + "\x00" + hash
	c.mu.Lock()
	r, ok := c.cur[key]
	if !ok {
		r, ok = c.prev[key]
	}
	c.mu.Unlock()
	if !ok {
		r = &checked{}
		// One walk for both checkers.
		r.report = validate.Resource(kind, name, m, envoyrules.Visitor(kind, name, &r.violations))
	}
	c.mu.Lock()
	c.cur[key] = r
	c.mu.Unlock()
	return r
}

// servable checks a node's whole set. Secrets named over SDS may be the
// ones the sidecar's agent serves.
func (c *checks) servable(s resourceSet) error {
	return c.over(s, nil, s)
}

// over checks set, which is base overlaid with own, where base has
// already been checked on its own with result baseErr. Overlaying only
// adds names, so every reference inside base still resolves and only
// own's resources, own's references and the checks across listeners need
// to run: that keeps a shape's cost to its own resources, not the
// thousands it shares. A problem in base refuses every shape built on it
// (even one whose own set replaces the faulty resource, which errs on the
// side of not serving).
func (c *checks) over(set resourceSet, baseErr error, own resourceSet) error {
	if baseErr != nil {
		return baseErr
	}
	key := setKey(set, own)
	if ok, err := c.setResult(key); ok {
		return err
	}
	err := c.across(set, own)
	c.keepSet(key, err)
	return err
}

// across runs over's checks.
func (c *checks) across(set, own resourceSet) error {
	var errs []error
	var reports []*validate.Report
	var violations envoyrules.Violations
	for _, typ := range servedTypes {
		kind, ts := checkedKinds[typ], own[typ]
		if kind == "" || ts == nil {
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(ts.items)) {
			e := ts.items[name]
			r := c.resource(kind, name, e.hash, e.res)
			reports = append(reports, r.report)
			errs = append(errs, r.report.Errs...)
			violations = append(violations, r.violations...)
		}
	}
	// Of the whole set, the rules across it read the listeners, clusters
	// and scopes, and the reference check only looks names up: no list of
	// the thousands of shared resources is built per shape. A set holds a
	// name once (a map), so validate.Set's check for a name served twice
	// has nothing to find here. Own's clusters are the only ones whose
	// load assignments are looked for: base was checked with its own.
	violations = append(violations, envoyrules.CheckSet(&translate.Resources{
		Listeners:    typed[*listener.Listener](set[resourcev3.ListenerType]),
		Clusters:     typed[*cluster.Cluster](set[resourcev3.ClusterType]),
		ScopedRoutes: typed[*route.ScopedRouteConfiguration](set[resourcev3.ScopedRouteType]),
	})...)
	errs = append(errs, validate.References(reports, set.serves, typed[*cluster.Cluster](own[resourcev3.ClusterType]), dataplane.SDSSecretNames()))
	err := errors.Join(append(errs, violations.Err())...)
	if err == nil {
		return nil
	}
	return &refusal{err: err, problems: problemsOf(errors.Join(errs...), violations)}
}

// kindTypes is checkedKinds the other way round.
var kindTypes = func() map[string]resourcev3.Type {
	out := make(map[string]resourcev3.Type, len(checkedKinds))
	for typ, kind := range checkedKinds {
		out[kind] = typ
	}
	return out
}()

// serves reports whether the set holds a resource of kind (as
// checkedKinds names them) named name.
func (s resourceSet) serves(kind, name string) bool {
	ts := s[kindTypes[kind]]
	if ts == nil {
		return false
	}
	_, ok := ts.get(name)
	return ok
}

// refusal is why a set may not be served: the checks' joined error, and
// each problem with the Envoy resource it is in, for events and status.
type refusal struct {
	err      error
	problems []events.Problem
}

func (r *refusal) Error() string { return r.err.Error() }

func (r *refusal) Unwrap() error { return r.err }

// problemsOf lists what validate found, then what envoyrules found, each
// with its resource.
func problemsOf(validated error, violations envoyrules.Violations) []events.Problem {
	var out []events.Problem
	for _, p := range validate.Problems(validated) {
		out = append(out, events.Problem{Resource: p.Resource, Reason: p.Error()})
	}
	for _, v := range violations {
		out = append(out, events.Problem{Resource: v.Type + " " + v.Name, Reason: fmt.Sprintf("at %s: [%s] %s", v.Path, v.Rule, v.Envoy)})
	}
	return out
}

// resources turns a set back into typed lists, sorted by name.
func (s resourceSet) resources() *translate.Resources {
	return &translate.Resources{
		Listeners:    typed[*listener.Listener](s[resourcev3.ListenerType]),
		Routes:       typed[*route.RouteConfiguration](s[resourcev3.RouteType]),
		ScopedRoutes: typed[*route.ScopedRouteConfiguration](s[resourcev3.ScopedRouteType]),
		Clusters:     typed[*cluster.Cluster](s[resourcev3.ClusterType]),
		Endpoints:    typed[*endpoint.ClusterLoadAssignment](s[resourcev3.EndpointType]),
		Secrets:      typed[*tls.Secret](s[resourcev3.SecretType]),
	}
}

func typed[T any](ts *typeSet) []T {
	if ts == nil {
		return nil
	}
	out := make([]T, 0, ts.size())
	ts.eachSorted(func(_ string, e *entry) {
		if r, ok := e.res.(T); ok {
			out = append(out, r)
		}
	})
	return out
}
