package controlplane

import (
	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/identity/service"
)

// authzDecided counts the decisions an agent reported since its previous
// report in embassy_authz_decisions_total. Only policies the mesh holds
// are counted: the policy label comes from the agent, and a label value
// per made-up name would grow the metric without bound.
func (c *ControlPlane) authzDecided(ds []service.AuthzDelta) {
	snap := c.snapshot()
	known := make(map[string]bool, len(snap.AuthorizationPolicies))
	for _, p := range snap.AuthorizationPolicies {
		known[p.Namespace+"/"+p.Name] = true
	}
	for _, d := range ds {
		if known[d.Policy] {
			c.obs.metrics.AuthzDecided(d.Policy, d.Allow, d.Deny, d.WouldDeny, d.Errs)
		}
	}
}

// authzReports adapts the identity service's latest reports for
// /v1/policies; none without the identity service.
func (c *ControlPlane) authzReports() []api.AuthzReport {
	if c.identity == nil {
		return nil
	}
	recs := c.identity.AuthzReports()
	out := make([]api.AuthzReport, 0, len(recs))
	for _, r := range recs {
		rep := api.AuthzReport{Proxy: r.Workload, ReportedAt: r.ReportedAt, Policies: make([]api.AuthzPolicyCounts, 0, len(r.Policies))}
		for _, p := range r.Policies {
			rep.Policies = append(rep.Policies, api.AuthzPolicyCounts{
				Policy: p.Policy, Revision: p.Revision,
				DecisionCounts: apiwire.DecisionCounts{Allow: p.Allow, Deny: p.Deny, WouldDeny: p.WouldDeny, Error: p.Error},
			})
		}
		out = append(out, rep)
	}
	return out
}
