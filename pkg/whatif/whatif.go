// Package whatif answers "what would happen to this request?" over one
// mesh snapshot: whether the caller's proxy is sent the destination at all
// (config scoping), which route and backends it would choose,
// whether the hop needs mutual TLS, and what every AuthorizationPolicy of
// the destination's workloads would decide. It is pure: the route choice
// follows the translator's first-match rules, and the authorization input
// is built by policy/extauthz.BuildInput from the CheckRequest a sidecar
// would send, so the answer is the one the data plane gives.
package whatif

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// Query is one hypothetical request.
type Query struct {
	// From is the caller's SPIFFE ID; empty for a caller without one.
	From string `json:"from"`
	// To is the destination service as "svc[.ns][:port]". The namespace
	// defaults to From's, else "default"; the port to the service's first
	// HTTP-family port.
	To      string            `json:"to"`
	Method  string            `json:"method,omitempty"`
	Path    string            `json:"path,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
}

// Answer is what the mesh would do with a Query.
type Answer struct {
	Revision    int64       `json:"revision"`
	Destination Destination `json:"destination"`
	// Route is the rule chosen; nil for a tcp port, or when no rule
	// matches (the request then gets 404 from the proxy).
	Route *RouteChoice `json:"route,omitempty"`
	MTLS  MTLS         `json:"mtls"`
	// Authorization holds one decision per policy targeting a workload of
	// the destination, by policy name.
	Authorization []PolicyDecision `json:"authorization"`
	// Scope says whether the caller's proxy is sent the destination at
	// all under the mesh's config scoping.
	Scope Scope `json:"scope"`
	// Allowed is whether the request reaches the service: the caller's
	// proxy is sent it, a route (or a tcp port) takes it, the caller meets
	// the mTLS mode, and every policy permits it (dry-run policies never
	// refuse).
	Allowed bool `json:"allowed"`
	// Reasons says, when not Allowed, what stops the request.
	Reasons []string `json:"reasons,omitempty"`
}

// Destination is the resolved service port.
type Destination struct {
	Service   string `json:"service"`
	Namespace string `json:"namespace"`
	Port      uint32 `json:"port"`
	Protocol  string `json:"protocol"`
	// Host is the :authority the caller's proxy sees, "<svc>.<ns>:<port>".
	Host string `json:"host"`
	// Workloads backing the service, by name.
	Workloads []string `json:"workloads,omitempty"`
}

// MTLS says whether the hop is mutual TLS.
type MTLS struct {
	// Mode is the mesh's STRICT, PERMISSIVE or DISABLED.
	Mode string `json:"mode"`
	// Required is true when the destination refuses plaintext (STRICT).
	Required bool `json:"required"`
	// Used is true when the caller's sidecar sends mTLS: STRICT and
	// PERMISSIVE clusters both do.
	Used bool `json:"used"`
}

// Options tune Check.
type Options struct {
	// Decide decides the policies' bundles; nil is LocalDecide. Bundles
	// come from the snapshot's compiled policies, or are compiled here
	// when the snapshot was built without a compiler.
	Decide DecideFunc
}

// Check answers q over snap.
func Check(ctx context.Context, snap *mesh.Snapshot, q Query, o Options) (*Answer, error) {
	if snap == nil {
		return nil, fmt.Errorf("no mesh snapshot")
	}
	svc, port, err := resolve(snap, q)
	if err != nil {
		return nil, err
	}
	if q.Method == "" {
		q.Method = "GET"
	}
	if q.Path == "" {
		q.Path = "/"
	}
	a := &Answer{
		Revision: snap.Revision,
		Destination: Destination{
			Service: svc.Ref.Name, Namespace: svc.Ref.Namespace, Port: port.Port, Protocol: port.Protocol,
			Host: svc.Ref.String() + ":" + strconv.FormatUint(uint64(port.Port), 10),
		},
		MTLS:    mtlsOf(snap),
		Allowed: true,
	}
	a.Scope = scopeOf(snap, q.From, svc.Ref)
	if !a.Scope.Sent {
		a.deny("not in the caller's config: %s", a.Scope.Reason)
	}
	workloads := backingWorkloads(snap, svc)
	for _, w := range workloads {
		a.Destination.Workloads = append(a.Destination.Workloads, w.Name)
	}
	if port.Protocol != resource.ProtocolTCP {
		a.Route = chooseRoute(snap, svc, port, q)
		if a.Route == nil {
			a.deny("no route rule of %s matches %s %s: the proxy answers 404", a.Destination.Host, q.Method, q.Path)
		}
	}
	if a.MTLS.Required && q.From == "" {
		a.deny("the mesh is STRICT and the caller has no SPIFFE ID: the destination refuses plaintext")
	}
	if port.Protocol == resource.ProtocolTCP {
		// Policies only apply to inbound HTTP listeners.
		return a, nil
	}
	decide := o.Decide
	if decide == nil {
		decide = LocalDecide
	}
	req := CheckRequest(q, a.Destination, workloadID(snap, svc, workloads))
	targets := policiesFor(snap, workloads)
	ps := make([]*mesh.AuthorizationPolicy, len(targets))
	for i, t := range targets {
		ps[i] = t.policy
	}
	for i, d := range decidePolicies(ctx, decide, ps, req) {
		d.Workloads = targets[i].workloads
		a.Authorization = append(a.Authorization, d)
		if !d.Permitted {
			a.deny("%s denies: %s", d.Policy, d.Reason)
		}
	}
	return a, nil
}

func (a *Answer) deny(format string, args ...any) {
	a.Allowed = false
	a.Reasons = append(a.Reasons, fmt.Sprintf(format, args...))
}

// resolve finds the service port a Query names.
func resolve(snap *mesh.Snapshot, q Query) (*mesh.Service, resource.ServicePort, error) {
	to := strings.TrimSpace(q.To)
	if to == "" {
		return nil, resource.ServicePort{}, fmt.Errorf("no destination: give the service as svc[.ns][:port]")
	}
	var portNum uint64
	if i := strings.LastIndexByte(to, ':'); i >= 0 {
		n, err := strconv.ParseUint(to[i+1:], 10, 32)
		if err != nil {
			return nil, resource.ServicePort{}, fmt.Errorf("destination %q: port %q is not a number", q.To, to[i+1:])
		}
		portNum, to = n, to[:i]
	}
	name, ns, _ := strings.Cut(to, ".")
	if ns == "" {
		ns = namespaceOf(q.From)
	}
	// Accept the cluster-style suffix callers often add.
	ns = strings.TrimSuffix(ns, ".svc")
	svc := snap.Service(mesh.ServiceRef{Namespace: ns, Name: name})
	if svc == nil {
		return nil, resource.ServicePort{}, fmt.Errorf("service %s.%s does not exist at revision %d", name, ns, snap.Revision)
	}
	for _, p := range svc.Spec.Ports {
		if portNum == 0 && p.Protocol != resource.ProtocolTCP || portNum != 0 && uint64(p.Port) == portNum {
			return svc, p, nil
		}
	}
	if portNum == 0 && len(svc.Spec.Ports) > 0 {
		return svc, svc.Spec.Ports[0], nil
	}
	return nil, resource.ServicePort{}, fmt.Errorf("service %s has no port %d", svc.Ref, portNum)
}

// namespaceOf is the namespace of a workload SPIFFE ID, else "default".
func namespaceOf(id string) string {
	if ns, ok := dataplane.IDNamespace(id); ok {
		return ns
	}
	return resource.DefaultNamespace
}

func mtlsOf(snap *mesh.Snapshot) MTLS {
	mode := snap.MTLSMode
	return MTLS{Mode: mode, Required: mode == resource.MTLSStrict, Used: mode != resource.MTLSDisabled}
}

// backingWorkloads are the Workloads behind the service's endpoints.
func backingWorkloads(snap *mesh.Snapshot, svc *mesh.Service) []*mesh.Workload {
	seen := map[string]bool{}
	var out []*mesh.Workload
	for _, ep := range svc.Endpoints {
		if ep.Workload == "" || seen[ep.Workload] {
			continue
		}
		seen[ep.Workload] = true
		if w := snap.Workload(svc.Ref.Namespace, ep.Workload); w != nil {
			out = append(out, w)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

type targeted struct {
	policy    *mesh.AuthorizationPolicy
	workloads []string
}

// policiesFor lists the policies targeting any of the workloads, by name,
// each with the workloads it targets.
func policiesFor(snap *mesh.Snapshot, workloads []*mesh.Workload) []targeted {
	byName := map[string]*targeted{}
	var names []string
	for _, w := range workloads {
		for _, p := range snap.AuthorizationPoliciesFor(w) {
			t := byName[p.Name]
			if t == nil {
				t = &targeted{policy: p}
				byName[p.Name] = t
				names = append(names, p.Name)
			}
			t.workloads = append(t.workloads, w.Name)
		}
	}
	sort.Strings(names)
	out := make([]targeted, len(names))
	for i, n := range names {
		out[i] = *byName[n]
	}
	return out
}

// workloadID is the destination's SPIFFE ID: that of its first workload's
// service account, as the sidecar's certificate carries it.
func workloadID(snap *mesh.Snapshot, svc *mesh.Service, ws []*mesh.Workload) string {
	if len(ws) > 0 {
		return ws[0].SPIFFEID
	}
	return dataplane.WorkloadIDString(snap.Mesh.TrustDomain, svc.Ref.Namespace, resource.DefaultServiceAccount)
}
