package mesh

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"embassy.dev/embassy/pkg/resource"
)

// Visibility is which services one proxy is sent under the mesh's config
// scoping (Mesh spec.configScoping), and why each is or is not. Proxies
// whose Visibility has the same Key are sent the same services, so they
// share their configuration.
type Visibility struct {
	// Mode is the mesh's scoping mode, its default filled in.
	Mode string
	// All is set when the proxy is sent every service: scoping is off or
	// nothing narrowed it. Key is then empty.
	All bool
	// Key identifies the set of services sent (a hash of their names).
	Key string
	// Decisions say, for every service of the snapshot in its order,
	// whether the proxy is sent it and why.
	Decisions []ScopeDecision
	sees      map[ServiceRef]bool
}

// ScopeDecision is whether one service is sent to a proxy, and why, in
// the words `embassyctl describe proxy` prints.
type ScopeDecision struct {
	Service ServiceRef
	Visible bool
	Reason  string
}

// Sees reports whether the proxy is sent the service.
func (v *Visibility) Sees(ref ServiceRef) bool { return v.All || v.sees[ref] }

// scopeMemo keeps each Visibility a snapshot resolved, by what it was
// resolved from, so that proxies of one identity and one egress list
// cost one resolution per snapshot however many there are.
type scopeMemo struct {
	mu sync.Mutex
	m  map[string]*Visibility
}

// Visible resolves which services a proxy of workload w is sent. w may be
// nil (a proxy naming no Workload): scoping needs a workload's identity
// and egress list, so such a proxy is sent every service. The result is
// computed once per snapshot for each distinct identity and egress list,
// and must not be modified.
func (s *Snapshot) Visible(w *Workload) *Visibility {
	mode := s.Mesh.ConfigScoping
	switch {
	case mode == resource.ScopingNone:
		return s.all(mode, "scoping is off (Mesh spec.configScoping: none)")
	case w == nil:
		return s.all(mode, "the proxy names no Workload, whose identity and egress scoping needs")
	}
	egress := s.egressOf(w)
	key := mode + "\x00" + w.SPIFFEID + "\x00" + egressKey(egress)
	s.scopes.mu.Lock()
	defer s.scopes.mu.Unlock()
	if v, ok := s.scopes.m[key]; ok {
		return v
	}
	v := s.resolveVisibility(mode, w.SPIFFEID, egress)
	if s.scopes.m == nil {
		s.scopes.m = map[string]*Visibility{}
	}
	s.scopes.m[key] = v
	return v
}

// all is a Visibility sending every service, for one reason.
func (s *Snapshot) all(mode, why string) *Visibility {
	v := &Visibility{Mode: mode, All: true}
	for _, svc := range s.Services {
		v.Decisions = append(v.Decisions, ScopeDecision{Service: svc.Ref, Visible: true, Reason: why})
	}
	return v
}

// resolveVisibility decides each service: narrowed by the egress list
// when there is one, then, in auto mode, by authorization; then every
// service a visible one's Routes send to or mirror to is kept, so the
// configuration sent stays complete.
func (s *Snapshot) resolveVisibility(mode, caller string, egress []egressEntry) *Visibility {
	v := &Visibility{Mode: mode, sees: map[ServiceRef]bool{}}
	reasons := map[ServiceRef]string{}
	for _, svc := range s.Services {
		visible, why := explicitlyListed(svc.Ref, egress)
		if mode == resource.ScopingAuto && len(egress) == 0 {
			why = "" // an empty list narrows nothing; authorization decides
		}
		if visible && mode == resource.ScopingAuto {
			var authz string
			visible, authz = s.mayReach(svc, caller)
			why = joinReasons(why, authz)
		}
		v.sees[svc.Ref], reasons[svc.Ref] = visible, why
	}
	s.keepBackends(v.sees, reasons)
	var names []string
	for _, svc := range s.Services {
		v.Decisions = append(v.Decisions, ScopeDecision{Service: svc.Ref, Visible: v.sees[svc.Ref], Reason: reasons[svc.Ref]})
		if v.sees[svc.Ref] {
			names = append(names, svc.Ref.String())
		}
	}
	if len(names) == len(s.Services) {
		v.All, v.sees = true, nil
		return v
	}
	h := sha256.Sum256([]byte(strings.Join(names, "\n")))
	v.Key = hex.EncodeToString(h[:12])
	return v
}

func joinReasons(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// keepBackends makes visible every service a visible service's Routes
// send to (backends) or mirror to, until nothing changes: a proxy sent
// a route must be sent the clusters it names.
func (s *Snapshot) keepBackends(sees map[ServiceRef]bool, reasons map[ServiceRef]string) {
	for range len(s.Services) + 1 {
		changed := false
		for _, r := range s.Routes {
			from := ServiceRef{r.Namespace, r.Spec.Service}
			if !sees[from] {
				continue
			}
			for _, to := range routeTargets(r) {
				if s.services[to] != nil && !sees[to] {
					sees[to], changed = true, true
					reasons[to] = fmt.Sprintf("Route %s/%s of %s, which is sent, routes to it (was: %s)", r.Namespace, r.Name, from, reasons[to])
				}
			}
		}
		if !changed {
			return
		}
	}
}

// routeTargets are the services a Route's rules send to or mirror to,
// besides its own.
func routeTargets(r *Route) []ServiceRef {
	var out []ServiceRef
	for _, rule := range r.Spec.Rules {
		for _, b := range rule.Backends {
			if b.Service != "" {
				out = append(out, ServiceRef{r.Namespace, b.Service})
			}
		}
		if m := rule.Mirror; m != nil && m.Service != "" {
			out = append(out, ServiceRef{r.Namespace, m.Service})
		}
	}
	return out
}
