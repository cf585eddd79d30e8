// Package mesh holds the intermediate representation between the store and
// the translator: one immutable, sorted snapshot of every resource at a
// store revision, with the lookups the translator needs. It holds no Envoy
// types.
package mesh

import (
	"slices"
	"sort"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/resource"
)

// ServiceRef names a service: namespace and name.
type ServiceRef struct {
	Namespace string
	Name      string
}

// String renders the reference as name.namespace, the host form clients dial.
func (s ServiceRef) String() string { return s.Name + "." + s.Namespace }

// Service is a Service resource with the endpoints backing it.
type Service struct {
	Ref  ServiceRef
	Spec *resource.ServiceSpec
	// Endpoints are every endpoint of the service (static ones and those of
	// workloads naming it that may serve it), sorted by address then
	// workload name.
	Endpoints []Endpoint
	// ServiceAccounts are the service accounts allowed to serve it, the
	// operator's list or its default (resource.AllowedServiceAccounts).
	// The identities clients accept come from here, never from endpoints.
	ServiceAccounts []string
	// Excluded are the workloads naming the service whose service account
	// is not allowed: they get none of its traffic. Sorted by name.
	Excluded []Workload
}

// Endpoint is one instance of a service.
type Endpoint struct {
	// Workload is the backing workload's name, empty for a static endpoint.
	Workload string
	Address  string
	// Ports maps the service port's name to the endpoint's port.
	Ports    map[string]uint32
	Labels   map[string]string
	Locality resource.Locality
	Weight   uint32
	// ServiceAccount is the identity's service account ("" for static).
	ServiceAccount string
}

// Workload is a Workload resource.
type Workload struct {
	Namespace string
	Name      string
	Spec      *resource.WorkloadSpec
	// ServiceAccount is the workload's service account, its default filled
	// in (resource.WorkloadSpec.Identity).
	ServiceAccount string
	// SPIFFEID is the identity the workload's agent holds in this mesh.
	SPIFFEID string
}

// Route is a Route resource.
type Route struct {
	Namespace string
	Name      string
	Spec      *resource.RouteSpec
	// RuleTimes are the durations of Spec.Rules, index for index; read
	// them with Times.
	RuleTimes []RuleTimes
	// Problems say which of its values the model could not resolve (and
	// so left out), for the translator to report.
	Problems []string
}

// TrafficPolicy is a TrafficPolicy resource.
type TrafficPolicy struct {
	Namespace string
	Name      string
	Spec      *resource.TrafficPolicySpec
	// Times are its durations, parsed once.
	Times PolicyTimes
	// Problems say which of its values the model could not resolve (and
	// so left out), for the translator to report.
	Problems []string
}

// AuthorizationPolicy is an AuthorizationPolicy resource.
type AuthorizationPolicy struct {
	Namespace string
	Name      string
	Spec      *resource.AuthorizationPolicySpec
	// Mode is ModeEnforce or ModeDryRun, the default filled in; Enforce
	// says it is ModeEnforce.
	Mode    string
	Enforce bool
	// FailureMode is FailureDeny or FailureAllow, the default filled in.
	FailureMode string
	// Compiled is what WithAuthz's compiler made of it; nil without one.
	Compiled *AuthzCompiled
}

// Snapshot is every resource at one store revision. It is never mutated
// after New returns, so it may be shared between goroutines.
type Snapshot struct {
	Revision int64
	// Mesh is the applied Mesh's spec with defaults filled in.
	Mesh resource.MeshSpec
	// MTLSMode is Mesh.MTLS.Mode: STRICT, PERMISSIVE or DISABLED, never
	// empty.
	MTLSMode              string
	Services              []*Service // sorted by namespace, name
	Workloads             []*Workload
	Routes                []*Route
	TrafficPolicies       []*TrafficPolicy
	AuthorizationPolicies []*AuthorizationPolicy

	services  map[ServiceRef]*Service
	workloads map[ServiceRef]*Workload
	routes    map[ServiceRef][]*Route
	policies  map[ServiceRef]*TrafficPolicy
	// scopes memoizes Visible; it is the one thing that changes after
	// New, behind its own lock, and only ever caches what Visible derives.
	scopes scopeMemo
	// serving is each service's serving workloads: what the next
	// snapshot compares to reuse its endpoints (WithPrevious).
	serving map[ServiceRef][]*Workload
}

// New builds a snapshot from resources (in any order) at a revision.
// It trusts that the resources passed validation.
func New(revision int64, resources []*resource.Resource, opts ...Option) *Snapshot {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	s := &Snapshot{
		Revision:  revision,
		Mesh:      withMeshDefaults(resource.MeshSpec{}),
		services:  map[ServiceRef]*Service{},
		workloads: map[ServiceRef]*Workload{},
		routes:    map[ServiceRef][]*Route{},
		policies:  map[ServiceRef]*TrafficPolicy{},
	}
	sorted := append([]*resource.Resource(nil), resources...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Key().String() < sorted[j].Key().String() })
	for _, r := range sorted {
		ns, name := r.Metadata.Namespace, r.Metadata.Name
		switch spec := r.Spec.(type) {
		case *resource.MeshSpec:
			s.Mesh = withMeshDefaults(*spec)
		case *resource.ServiceSpec:
			svc := &Service{Ref: ServiceRef{ns, name}, Spec: spec, ServiceAccounts: resource.AllowedServiceAccounts(name, spec)}
			s.Services = append(s.Services, svc)
			s.services[svc.Ref] = svc
		case *resource.WorkloadSpec:
			w := &Workload{Namespace: ns, Name: name, Spec: spec}
			s.Workloads = append(s.Workloads, w)
			s.workloads[ServiceRef{ns, name}] = w
		case *resource.RouteSpec:
			r := newRoute(ns, name, spec)
			s.Routes = append(s.Routes, r)
			ref := ServiceRef{ns, spec.Service}
			s.routes[ref] = append(s.routes[ref], r)
		case *resource.TrafficPolicySpec:
			t := newTrafficPolicy(ns, name, spec)
			s.TrafficPolicies = append(s.TrafficPolicies, t)
			if ref := (ServiceRef{ns, spec.Service}); s.policies[ref] == nil {
				s.policies[ref] = t
			}
		case *resource.AuthorizationPolicySpec:
			s.AuthorizationPolicies = append(s.AuthorizationPolicies, newAuthorizationPolicy(ns, name, spec))
		}
	}
	s.MTLSMode = s.Mesh.MTLS.Mode
	for _, w := range s.Workloads {
		if !o.prev.reuseIdentity(w, s.Mesh.TrustDomain) {
			w.resolveIdentity(s.Mesh.TrustDomain)
		}
	}
	// Index workloads by the services they back once, so building
	// endpoints is linear in workloads rather than services × workloads.
	backing := map[ServiceRef][]*Workload{}
	for _, w := range s.Workloads {
		for i, name := range w.Spec.Services {
			if slices.Contains(w.Spec.Services[:i], name) {
				continue
			}
			ref := ServiceRef{w.Namespace, name}
			backing[ref] = append(backing[ref], w)
		}
	}
	s.serving = make(map[ServiceRef][]*Workload, len(s.Services))
	for _, svc := range s.Services {
		var serving []*Workload
		for _, w := range backing[svc.Ref] {
			if slices.Contains(svc.ServiceAccounts, w.ServiceAccount) {
				serving = append(serving, w)
			} else {
				svc.Excluded = append(svc.Excluded, *w)
			}
		}
		s.serving[svc.Ref] = serving
		if eps, ok := o.prev.reuseEndpoints(svc, serving); ok {
			svc.Endpoints = eps
		} else {
			svc.Endpoints = buildEndpoints(svc, serving)
		}
	}
	s.compileAuthz(o.authz)
	return s
}

func withMeshDefaults(m resource.MeshSpec) resource.MeshSpec {
	if m.TrustDomain == "" {
		m.TrustDomain = dataplane.DefaultTrustDomain
	}
	if m.MTLS == nil || m.MTLS.Mode == "" {
		m.MTLS = &resource.MTLS{Mode: resource.MTLSStrict}
	}
	if m.CA == nil || m.CA.Type == "" {
		m.CA = &resource.CA{Type: "builtin"}
	}
	if m.SVIDTTL == "" {
		m.SVIDTTL = resource.DefaultSVIDTTL
	}
	if m.ConfigScoping == "" {
		m.ConfigScoping = resource.ScopingNone
	}
	if m.SidecarRoutes == "" {
		m.SidecarRoutes = resource.RoutesShared
	}
	return m
}

func buildEndpoints(svc *Service, workloads []*Workload) []Endpoint {
	var eps []Endpoint
	for _, se := range svc.Spec.Endpoints {
		ports := map[string]uint32{}
		for _, p := range svc.Spec.Ports {
			ports[p.Name] = targetPort(p)
			if se.Port != 0 {
				ports[p.Name] = se.Port
			}
		}
		eps = append(eps, Endpoint{Address: se.Address, Ports: ports, Labels: se.Labels, Locality: deref(se.Locality), Weight: weight(se.Weight)})
	}
	for _, w := range workloads {
		ports := map[string]uint32{}
		for _, p := range svc.Spec.Ports {
			ports[p.Name] = targetPort(p)
			for _, wp := range w.Spec.Ports {
				if wp.Name == p.Name {
					ports[p.Name] = wp.Port
				}
			}
		}
		eps = append(eps, Endpoint{Workload: w.Name, Address: w.Spec.Address, Ports: ports, Labels: w.Spec.Labels, Locality: deref(w.Spec.Locality), Weight: weight(w.Spec.Weight), ServiceAccount: w.ServiceAccount})
	}
	sort.SliceStable(eps, func(i, j int) bool {
		if eps[i].Address != eps[j].Address {
			return eps[i].Address < eps[j].Address
		}
		return eps[i].Workload < eps[j].Workload
	})
	return eps
}

func targetPort(p resource.ServicePort) uint32 {
	if p.TargetPort != 0 {
		return p.TargetPort
	}
	return p.Port
}

func weight(w uint32) uint32 {
	if w == 0 {
		return 1
	}
	return w
}

func deref(l *resource.Locality) resource.Locality {
	if l == nil {
		return resource.Locality{}
	}
	return *l
}

// Service returns the service, or nil.
func (s *Snapshot) Service(ref ServiceRef) *Service { return s.services[ref] }

// Workload returns the workload namespace/name, or nil.
func (s *Snapshot) Workload(namespace, name string) *Workload {
	return s.workloads[ServiceRef{namespace, name}]
}

// RoutesFor returns the Routes targeting the service, sorted by name.
func (s *Snapshot) RoutesFor(ref ServiceRef) []*Route { return s.routes[ref] }

// TrafficPolicyFor returns the first (by name) TrafficPolicy targeting the
// service, or nil.
func (s *Snapshot) TrafficPolicyFor(ref ServiceRef) *TrafficPolicy { return s.policies[ref] }
