package api

import (
	"sort"
	"time"
)

// AuthzReport is the latest authorization report of one proxy's agent: the
// decisions its ext_authz server made per policy since the agent started.
type AuthzReport struct {
	// Proxy is the node id, "<workload>.<namespace>".
	Proxy string
	// ReportedAt is when the control plane received the report.
	ReportedAt time.Time
	Policies   []AuthzPolicyCounts
}

// AuthzPolicyCounts is one policy's cumulative decisions in a report.
type AuthzPolicyCounts struct {
	// Policy is "<namespace>/<name>".
	Policy   string
	Revision string
	DecisionCounts
}

// DecisionCounts counts authorization decisions by outcome. WouldDeny
// counts what a dry-run policy would have denied; Error counts failed
// evaluations and decisions made before a revision loaded.
type DecisionCounts struct {
	Allow     uint64 `json:"allow"`
	Deny      uint64 `json:"deny"`
	WouldDeny uint64 `json:"wouldDeny"`
	Error     uint64 `json:"error"`
}

func (c *DecisionCounts) add(o DecisionCounts) {
	c.Allow += o.Allow
	c.Deny += o.Deny
	c.WouldDeny += o.WouldDeny
	c.Error += o.Error
}

// ProxyDecisions is what one proxy's agent last reported for a policy.
type ProxyDecisions struct {
	// Revision is the revision the agent decided with at the report.
	Revision string `json:"revision"`
	DecisionCounts
	ReportedAt time.Time `json:"reportedAt"`
}

// policyDecisions indexes the reports by policy, then proxy. A proxy
// reported by more than one agent identity has their counts summed, and
// the revision of the latest report.
func policyDecisions(reports []AuthzReport) map[string]map[string]*ProxyDecisions {
	out := map[string]map[string]*ProxyDecisions{}
	for _, r := range reports {
		for _, p := range r.Policies {
			byProxy := out[p.Policy]
			if byProxy == nil {
				byProxy = map[string]*ProxyDecisions{}
				out[p.Policy] = byProxy
			}
			d := byProxy[r.Proxy]
			if d == nil {
				d = &ProxyDecisions{}
				byProxy[r.Proxy] = d
			}
			d.add(p.DecisionCounts)
			if !r.ReportedAt.Before(d.ReportedAt) {
				d.Revision, d.ReportedAt = p.Revision, r.ReportedAt
			}
		}
	}
	return out
}

// addDecisions puts each proxy's reported decisions on st's proxies,
// listing the reporting proxies that are not connected too, and sums
// them into the policy's totals.
func addDecisions(st *PolicyStatus, byProxy map[string]*ProxyDecisions) {
	if len(byProxy) == 0 {
		return
	}
	seen := map[string]bool{}
	for i := range st.Proxies {
		if d := byProxy[st.Proxies[i].ID]; d != nil {
			st.Proxies[i].Decisions = d
		}
		seen[st.Proxies[i].ID] = true
	}
	for id, d := range byProxy {
		if !seen[id] {
			st.Proxies = append(st.Proxies, PolicyProxy{ID: id, Decisions: d})
		}
		st.Decisions.add(d.DecisionCounts)
	}
	sort.Slice(st.Proxies, func(i, j int) bool { return st.Proxies[i].ID < st.Proxies[j].ID })
}
