package extauthz

import (
	"sync"
	"sync/atomic"

	"embassy.dev/embassy/policy/engine"
)

// Counts are a policy's decisions since the server started. A dry-run
// deny is counted as WouldDeny, not Deny: nothing was denied.
type Counts struct {
	Allow     uint64 `json:"allow"`
	Deny      uint64 `json:"deny"`
	WouldDeny uint64 `json:"wouldDeny"`
	Error     uint64 `json:"error"`
}

type counters struct{ allow, deny, wouldDeny, err atomic.Uint64 }

// stats counts decisions per policy name ("" before any policy loaded).
type stats struct{ m sync.Map } // policy name → *counters

func (s *stats) count(d engine.Decision) {
	v, ok := s.m.Load(d.Policy)
	if !ok {
		v, _ = s.m.LoadOrStore(d.Policy, &counters{})
	}
	c := v.(*counters)
	switch d.Outcome() {
	case engine.OutcomeAllow:
		c.allow.Add(1)
	case engine.OutcomeDeny:
		c.deny.Add(1)
	case engine.OutcomeWouldDeny:
		c.wouldDeny.Add(1)
	default:
		c.err.Add(1)
	}
}

// Counts returns the decisions counted per policy name.
func (s *Server) Counts() map[string]Counts {
	out := map[string]Counts{}
	s.stats.m.Range(func(k, v any) bool {
		c := v.(*counters)
		out[k.(string)] = Counts{Allow: c.allow.Load(), Deny: c.deny.Load(), WouldDeny: c.wouldDeny.Load(), Error: c.err.Load()}
		return true
	})
	return out
}
