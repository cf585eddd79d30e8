package mesh

import (
	"fmt"
	"slices"
	"strings"

	"embassy.dev/embassy/pkg/resource"
)

// guard is what the authorization of one service says before any caller
// is known: a reason that keeps it visible to everyone, or the policy
// sets of the workloads serving it, each read once per caller.
type guard struct {
	kept      string
	workloads []workloadGuard
	// everyone is set when a workload serving it has no enforced policy
	// with a caller analysis, so it may allow any caller.
	everyone bool
	// indexed is set when every such policy lists its callers exactly;
	// callers is then every caller some workload may allow.
	indexed bool
	callers map[string]bool
}

// workloadGuard is the policies of one workload serving a service, as
// scoping reads them. Workloads with the same policies share one.
type workloadGuard struct {
	name string
	// enforced are the enforced policies with a caller analysis.
	enforced []*AuthorizationPolicy
	// unread say why enforced policies without one cannot be analysed;
	// dryRun names the dry-run policies.
	unread, dryRun []string
}

// guards indexes every service's guard, by its index in Services, once
// per snapshot: resolving one identity then costs a few RBAC reads per
// service, not a scan of every policy for every workload.
func (s *Snapshot) guards() []*guard {
	s.scopes.guardsOnce.Do(func() {
		policiesFor := s.policyIndex()
		s.scopes.guards = make([]*guard, len(s.Services))
		for i, svc := range s.Services {
			s.scopes.guards[i] = s.guardOf(svc, policiesFor)
		}
	})
	return s.scopes.guards
}

// policyIndex is AuthorizationPoliciesFor over an index of the policies
// by the services and namespaces they target, built once, so that every
// workload does not scan every policy.
func (s *Snapshot) policyIndex() func(*Workload) []*AuthorizationPolicy {
	byService := map[ServiceRef][]*AuthorizationPolicy{}
	bySelector := map[string][]*AuthorizationPolicy{}
	for _, p := range s.AuthorizationPolicies {
		for _, svc := range p.Spec.Targets.Services {
			byService[ServiceRef{p.Namespace, svc}] = append(byService[ServiceRef{p.Namespace, svc}], p)
		}
		if sel := p.Spec.Targets.Selector; sel != nil && len(sel.MatchLabels) > 0 {
			bySelector[p.Namespace] = append(bySelector[p.Namespace], p)
		}
	}
	return func(w *Workload) []*AuthorizationPolicy {
		candidates := bySelector[w.Namespace]
		for _, svc := range w.Spec.Services {
			candidates = append(candidates[:len(candidates):len(candidates)], byService[ServiceRef{w.Namespace, svc}]...)
		}
		var out []*AuthorizationPolicy
		for _, p := range candidates {
			if Targets(p, w) && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
		slices.SortFunc(out, func(a, b *AuthorizationPolicy) int { return strings.Compare(a.Name, b.Name) })
		return out
	}
}

func (s *Snapshot) guardOf(svc *Service, policiesFor func(*Workload) []*AuthorizationPolicy) *guard {
	if s.MTLSMode == resource.MTLSDisabled {
		return &guard{kept: "mTLS is DISABLED, so callers prove no identity to read policies against"}
	}
	for _, p := range svc.Spec.Ports {
		if !IsHTTPFamily(p.Protocol) {
			return &guard{kept: fmt.Sprintf("its %s port %d is not behind policies, which read HTTP requests", p.Protocol, p.Port)}
		}
	}
	g := &guard{}
	seen := map[string]bool{}
	for _, ep := range svc.Endpoints {
		if ep.Workload == "" {
			return &guard{kept: fmt.Sprintf("static endpoint %s is behind no policy", ep.Address)}
		}
		w := s.workloads[ServiceRef{svc.Ref.Namespace, ep.Workload}]
		if w == nil || seen[w.Name] {
			continue
		}
		seen[w.Name] = true
		wg := workloadGuardOf(w, policiesFor(w))
		if !slices.ContainsFunc(g.workloads, wg.samePolicies) {
			g.workloads = append(g.workloads, wg)
		}
	}
	if len(g.workloads) == 0 {
		return &guard{kept: "no workload serves it yet, so no policy applies"}
	}
	g.index()
	return g
}

// index fills everyone, indexed and callers from the workloads' policies.
// A workload's callers are those every one of its policies allows.
func (g *guard) index() {
	g.indexed, g.callers = true, map[string]bool{}
	for _, wg := range g.workloads {
		if len(wg.enforced) == 0 {
			g.everyone = true
			return
		}
		for caller := range wg.enforced[0].Compiled.Callers {
			allowed := true
			for _, p := range wg.enforced {
				allowed = allowed && p.Compiled.Callers[caller]
			}
			if allowed {
				g.callers[caller] = true
			}
		}
		for _, p := range wg.enforced {
			g.indexed = g.indexed && p.Compiled.Callers != nil
		}
	}
}

func workloadGuardOf(w *Workload, policies []*AuthorizationPolicy) workloadGuard {
	wg := workloadGuard{name: w.Name}
	for _, p := range policies {
		name := p.Namespace + "/" + p.Name
		c := p.Compiled
		switch {
		case !p.Enforce:
			wg.dryRun = append(wg.dryRun, name)
		case c == nil || !c.Compiled || c.MayAllow == nil:
			wg.unread = append(wg.unread, fmt.Sprintf("policy %s cannot be analysed (%s)", name, unreadReason(c)))
		default:
			wg.enforced = append(wg.enforced, p)
		}
	}
	return wg
}

func (a workloadGuard) samePolicies(b workloadGuard) bool {
	return slices.Equal(a.enforced, b.enforced) && slices.Equal(a.unread, b.unread) && slices.Equal(a.dryRun, b.dryRun)
}

// mayReach says whether caller (a SPIFFE ID) may be allowed by some
// workload serving svc, and, when explain is set, why: scoping's auto
// mode hides a service only when on every workload serving it some
// enforced policy compiled to RBAC cannot allow the caller. A workload's
// policies must all allow a request (each is its own RBAC filter), so one
// such policy is enough for that workload; a policy that cannot be
// analysed never hides anything.
func (g *guard) mayReach(svc *Service, caller string, explain bool) (bool, string) {
	if g.kept != "" {
		return true, g.kept
	}
	if !explain && (g.everyone || g.indexed) {
		return g.everyone || g.callers[caller], ""
	}
	var denials []string
	for _, wg := range g.workloads {
		if wg.mayAllow(caller) {
			if !explain {
				return true, ""
			}
			return true, wg.allowReason(caller)
		}
		if explain {
			denials = append(denials, wg.denyReason(caller))
		}
	}
	if !explain {
		return false, ""
	}
	return false, fmt.Sprintf("no policy of %s can allow %s: %s", svc.Ref.Name, caller, strings.Join(denials, "; "))
}

// mayAllow reports whether no policy of the workload is certain to
// refuse every request of caller.
func (wg workloadGuard) mayAllow(caller string) bool {
	for _, p := range wg.enforced {
		if !p.Compiled.MayAllow(caller) {
			return false
		}
	}
	return true
}

// denyReason names the policy of the workload that refuses caller.
func (wg workloadGuard) denyReason(caller string) string {
	for _, p := range wg.enforced {
		if !p.Compiled.MayAllow(caller) {
			return fmt.Sprintf("AuthorizationPolicy %s/%s (on workload %s) allows no request of it", p.Namespace, p.Name, wg.name)
		}
	}
	return ""
}

// allowReason says what keeps the service for a caller the workload may
// allow.
func (wg workloadGuard) allowReason(caller string) string {
	switch {
	case len(wg.unread) > 0:
		return strings.Join(wg.unread, "; ") + ": kept"
	case len(wg.enforced) > 0:
		names := make([]string, len(wg.enforced))
		for i, p := range wg.enforced {
			names[i] = p.Namespace + "/" + p.Name
		}
		return fmt.Sprintf("policy %s can allow %s", strings.Join(names, ", "), caller)
	case len(wg.dryRun) > 0:
		return fmt.Sprintf("policy %s is dry-run, which denies nothing: kept", strings.Join(wg.dryRun, ", "))
	}
	return fmt.Sprintf("workload %s has no enforced AuthorizationPolicy", wg.name)
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
