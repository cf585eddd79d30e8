package api

import (
	"sort"
	"time"

	"embassy.dev/embassy/pkg/apiwire"
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
	apiwire.DecisionCounts
}

// policyDecisions indexes the reports by policy, then proxy. A proxy
// reported by more than one agent identity has their counts summed, and
// the revision of the latest report.
func policyDecisions(reports []AuthzReport) map[string]map[string]*apiwire.ProxyDecisions {
	out := map[string]map[string]*apiwire.ProxyDecisions{}
	for _, r := range reports {
		for _, p := range r.Policies {
			byProxy := out[p.Policy]
			if byProxy == nil {
				byProxy = map[string]*apiwire.ProxyDecisions{}
				out[p.Policy] = byProxy
			}
			d := byProxy[r.Proxy]
			if d == nil {
				d = &apiwire.ProxyDecisions{}
				byProxy[r.Proxy] = d
			}
			d.Add(p.DecisionCounts)
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
func addDecisions(st *apiwire.PolicyStatus, byProxy map[string]*apiwire.ProxyDecisions) {
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
			st.Proxies = append(st.Proxies, apiwire.PolicyProxy{ID: id, Decisions: d})
		}
		st.Decisions.Add(d.DecisionCounts)
	}
	sort.Slice(st.Proxies, func(i, j int) bool { return st.Proxies[i].ID < st.Proxies[j].ID })
}
