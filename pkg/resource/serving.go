package resource

import (
	"fmt"
	"slices"
	"strings"
)

// DefaultServiceAccount is the service account of a Workload that names
// none.
const DefaultServiceAccount = "default"

// AllowedServiceAccounts returns the service accounts whose workloads may
// serve the Service named name with spec s (nil for a Service not applied
// yet). An omitted spec.serviceAccounts never means "anyone": it allows
// only the service account named like the Service, so a workload has to
// be given that identity, or the operator has to list it, before it gets
// traffic. This is the one place that default is decided.
func AllowedServiceAccounts(name string, s *ServiceSpec) []string {
	if s != nil && len(s.ServiceAccounts) > 0 {
		return s.ServiceAccounts
	}
	return []string{name}
}

// Identity returns the Workload's service account, DefaultServiceAccount
// when it names none.
func (s *WorkloadSpec) Identity() string {
	if s.ServiceAccount == "" {
		return DefaultServiceAccount
	}
	return s.ServiceAccount
}

// MayServe reports whether a workload with service account sa may back
// the Service named name with spec s (nil when not applied yet).
func MayServe(name string, s *ServiceSpec, sa string) bool {
	return slices.Contains(AllowedServiceAccounts(name, s), sa)
}

// NotAllowedToServe says why service account sa may not back service
// name.namespace, naming the field that decides it and the allowed list.
func NotAllowedToServe(namespace, name string, s *ServiceSpec, sa string) string {
	why := ""
	if s == nil || len(s.ServiceAccounts) == 0 {
		why = " (omitted: only the service account named like the Service)"
	}
	return fmt.Sprintf("service account %q may not serve service %s.%s: the Service's spec.serviceAccounts allows [%s]%s; list %q there, or run the workload as one of those",
		sa, name, namespace, strings.Join(AllowedServiceAccounts(name, s), ", "), why, sa)
}

// Exclusion is a Workload that names an applied Service whose allowed
// service accounts do not include the Workload's: it gets none of that
// service's traffic.
type Exclusion struct {
	Workload *Resource
	// Index is the position of the service in the Workload's spec.services.
	Index   int
	Service string
	// Spec is the Service's spec.
	Spec *ServiceSpec
}

// Path is the Workload's field that names the service.
func (e Exclusion) Path() string { return index("spec.services", e.Index) }

// Reason says why the Workload is excluded and what would admit it.
func (e Exclusion) Reason() string {
	sa := e.Workload.Spec.(*WorkloadSpec).Identity()
	return NotAllowedToServe(e.Workload.Metadata.Namespace, e.Service, e.Spec, sa)
}

// Exclusions lists, sorted by Workload key then service, every Workload of
// a complete resource set that names an applied Service it may not serve.
// A Service not applied yet excludes nobody: it has no traffic to give,
// and once applied, its list decides.
func Exclusions(all []*Resource) []Exclusion {
	c := newRefChecker(all)
	var out []Exclusion
	for _, r := range c.sorted {
		w, ok := r.Spec.(*WorkloadSpec)
		if !ok {
			continue
		}
		for i, name := range w.Services {
			svc, ok := c.services[nsName{r.Metadata.Namespace, name}]
			if ok && !MayServe(name, svc, w.Identity()) {
				out = append(out, Exclusion{Workload: r, Index: i, Service: name, Spec: svc})
			}
		}
	}
	return out
}
