package mesh

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	"embassy.dev/embassy/pkg/resource"
)

// Visibility is which services one proxy is sent under the mesh's config
// scoping (Mesh spec.configScoping). Proxies whose Visibility has the
// same Key are sent the same services, so they share their
// configuration. Decisions says why, computed on demand: a push needs
// only the set.
type Visibility struct {
	// Mode is the mesh's scoping mode, its default filled in.
	Mode string
	// All is set when the proxy is sent every service: scoping is off or
	// nothing narrowed it. Key is then empty.
	All bool
	// Key identifies the set of services sent.
	Key string

	s *Snapshot
	// sees holds a bit per service, by its index in s.Services.
	sees []uint64
	// why is the reason every service is sent without resolving
	// anything; caller and egress are what Decisions re-resolves.
	why    string
	caller string
	egress []egressEntry
}

// ScopeDecision is whether one service is sent to a proxy, and why, in
// the words `embassyctl describe proxy` prints.
type ScopeDecision struct {
	Service ServiceRef
	Visible bool
	Reason  string
}

// Sees reports whether the proxy is sent the service.
func (v *Visibility) Sees(ref ServiceRef) bool {
	if v.All {
		return true
	}
	i, ok := v.s.serviceIndex()[ref]
	return ok && v.sees[i/64]&(1<<(i%64)) != 0
}

// Decisions say, for every service of the snapshot in its order, whether
// the proxy is sent it and why.
func (v *Visibility) Decisions() []ScopeDecision {
	out := make([]ScopeDecision, len(v.s.Services))
	var reasons []string
	if v.caller != "" {
		_, reasons = v.s.resolveVisibility(v.Mode, v.caller, v.egress, true)
	}
	for i, svc := range v.s.Services {
		out[i] = ScopeDecision{Service: svc.Ref, Visible: v.Sees(svc.Ref), Reason: v.why}
		if reasons != nil {
			out[i].Reason = reasons[i]
		}
	}
	return out
}

// scopeMemo keeps each Visibility a snapshot resolved, by what it was
// resolved from, so that proxies of one identity and one egress list
// cost one resolution per snapshot however many there are.
type scopeMemo struct {
	mu sync.Mutex
	m  map[string]*Visibility
	// index maps each service to its position in Services.
	indexOnce sync.Once
	index     map[ServiceRef]int
	// guards index the services' authorization for auto mode.
	guardsOnce sync.Once
	guards     []*guard
}

func (s *Snapshot) serviceIndex() map[ServiceRef]int {
	s.scopes.indexOnce.Do(func() {
		s.scopes.index = make(map[ServiceRef]int, len(s.Services))
		for i, svc := range s.Services {
			s.scopes.index[svc.Ref] = i
		}
	})
	return s.scopes.index
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
		return &Visibility{Mode: mode, All: true, s: s, why: "scoping is off (Mesh spec.configScoping: none)"}
	case w == nil:
		return &Visibility{Mode: mode, All: true, s: s, why: "the proxy names no Workload, whose identity and egress scoping needs"}
	}
	egress := s.egressOf(w)
	key := mode + "\x00" + w.SPIFFEID + "\x00" + egressKey(egress)
	s.scopes.mu.Lock()
	defer s.scopes.mu.Unlock()
	if v, ok := s.scopes.m[key]; ok {
		return v
	}
	v := &Visibility{Mode: mode, s: s, caller: w.SPIFFEID, egress: egress}
	v.sees, _ = s.resolveVisibility(mode, w.SPIFFEID, egress, false)
	v.setKey()
	if s.scopes.m == nil {
		s.scopes.m = map[string]*Visibility{}
	}
	s.scopes.m[key] = v
	return v
}

// setKey sets All when every service is visible, else Key.
func (v *Visibility) setKey() {
	n := 0
	raw := make([]byte, 0, 8*len(v.sees))
	for _, word := range v.sees {
		for b := range 64 {
			if word&(1<<b) != 0 {
				n++
			}
		}
		raw = fmt.Appendf(raw, "%016x", word)
	}
	if n == len(v.s.Services) {
		v.All, v.sees = true, nil
		return
	}
	h := sha256.Sum256(raw)
	v.Key = hex.EncodeToString(h[:12])
}

// resolveVisibility decides each service, by index: narrowed by the
// egress list when there is one, then, in auto mode, by authorization;
// then every service a visible one's Routes send to or mirror to is kept,
// so the configuration sent stays complete. Reasons are only written when
// explain is set.
func (s *Snapshot) resolveVisibility(mode, caller string, egress []egressEntry, explain bool) ([]uint64, []string) {
	sees := make([]uint64, (len(s.Services)+63)/64)
	var reasons []string
	if explain {
		reasons = make([]string, len(s.Services))
	}
	guards := s.guards()
	for i, svc := range s.Services {
		visible, why := explicitlyListed(svc.Ref, egress, explain)
		if mode == resource.ScopingAuto && len(egress) == 0 {
			why = "" // an empty list narrows nothing; authorization decides
		}
		if visible && mode == resource.ScopingAuto {
			var authz string
			visible, authz = guards[i].mayReach(svc, caller, explain)
			why = joinReasons(why, authz)
		}
		if visible {
			sees[i/64] |= 1 << (i % 64)
		}
		if explain {
			reasons[i] = why
		}
	}
	s.keepBackends(sees, reasons)
	return sees, reasons
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
func (s *Snapshot) keepBackends(sees []uint64, reasons []string) {
	index := s.serviceIndex()
	has := func(i int) bool { return sees[i/64]&(1<<(i%64)) != 0 }
	for range len(s.Services) + 1 {
		changed := false
		for _, r := range s.Routes {
			from, ok := index[ServiceRef{r.Namespace, r.Spec.Service}]
			if !ok || !has(from) {
				continue
			}
			for _, to := range routeTargets(r) {
				j, ok := index[to]
				if !ok || has(j) {
					continue
				}
				sees[j/64] |= 1 << (j % 64)
				changed = true
				if reasons != nil {
					reasons[j] = fmt.Sprintf("Route %s/%s of %s, which is sent, routes to it (was: %s)", r.Namespace, r.Name, s.Services[from].Ref, reasons[j])
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
