package mesh

import (
	"fmt"
	"slices"
	"strings"

	"embassy.dev/embassy/pkg/resource"
)

// mayReach says whether caller (a SPIFFE ID) may be allowed by some
// workload serving svc, and why: scoping's auto mode hides a service only
// when on every workload serving it some enforced policy compiled to RBAC
// cannot allow the caller. A workload's policies must all allow a request
// (each is its own RBAC filter), so one such policy is enough for that
// workload; a policy that cannot be analysed never hides anything.
func (s *Snapshot) mayReach(svc *Service, caller string) (bool, string) {
	if s.MTLSMode == resource.MTLSDisabled {
		return true, "mTLS is DISABLED, so callers prove no identity to read policies against"
	}
	for _, p := range svc.Spec.Ports {
		if !IsHTTPFamily(p.Protocol) {
			return true, fmt.Sprintf("its %s port %d is not behind policies, which read HTTP requests", p.Protocol, p.Port)
		}
	}
	var workloads []*Workload
	for _, ep := range svc.Endpoints {
		if ep.Workload == "" {
			return true, fmt.Sprintf("static endpoint %s is behind no policy", ep.Address)
		}
		if w := s.workloads[ServiceRef{svc.Ref.Namespace, ep.Workload}]; w != nil && !slices.Contains(workloads, w) {
			workloads = append(workloads, w)
		}
	}
	if len(workloads) == 0 {
		return true, "no workload serves it yet, so no policy applies"
	}
	var denials []string
	for _, w := range workloads {
		ok, why := s.workloadMayAllow(w, caller)
		if ok {
			return true, why
		}
		if !slices.Contains(denials, why) {
			denials = append(denials, why)
		}
	}
	return false, fmt.Sprintf("no policy of %s can allow %s: %s", svc.Ref.Name, caller, strings.Join(denials, "; "))
}

// workloadMayAllow reads the enforced policies targeting w: false, with
// the policy, when one compiled to RBAC cannot allow caller; else true,
// with the reason that keeps the service.
func (s *Snapshot) workloadMayAllow(w *Workload, caller string) (bool, string) {
	var unread, allowing, dryRun []string
	for _, p := range s.AuthorizationPoliciesFor(w) {
		name := p.Namespace + "/" + p.Name
		c := p.Compiled
		switch {
		case !p.Enforce:
			dryRun = append(dryRun, name)
		case c == nil || !c.Compiled || c.MayAllow == nil:
			unread = append(unread, fmt.Sprintf("policy %s cannot be analysed (%s)", name, unreadReason(c)))
		case !c.MayAllow(caller):
			return false, fmt.Sprintf("AuthorizationPolicy %s (on workload %s) allows no request of it", name, w.Name)
		default:
			allowing = append(allowing, name)
		}
	}
	switch {
	case len(unread) > 0:
		return true, strings.Join(unread, "; ") + ": kept"
	case len(allowing) > 0:
		return true, fmt.Sprintf("policy %s can allow %s", strings.Join(allowing, ", "), caller)
	case len(dryRun) > 0:
		return true, fmt.Sprintf("policy %s is dry-run, which denies nothing: kept", strings.Join(dryRun, ", "))
	}
	return true, fmt.Sprintf("workload %s has no enforced AuthorizationPolicy", w.Name)
}

func unreadReason(c *AuthzCompiled) string {
	switch {
	case c == nil:
		return "not compiled"
	case c.Err != "":
		return "it failed to compile"
	case !c.Compiled:
		return "it runs on ext_authz, not RBAC"
	}
	return "its compiler gave no caller analysis"
}
