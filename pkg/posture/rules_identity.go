package posture

import (
	"fmt"
	"time"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/status"
)

// nearExpiry reports whether less than NearExpiryFraction of the
// lifetime from..to is left at now, or (when floor > 0) less than floor.
func nearExpiry(now, from, to time.Time, floor time.Duration) bool {
	left := to.Sub(now)
	return float64(left) < NearExpiryFraction*float64(to.Sub(from)) || floor > 0 && left < floor
}

func certificateExpiry(in Inputs) []Finding {
	var out []Finding
	for _, c := range in.Certificates {
		if !nearExpiry(in.Now, c.IssuedAt, c.NotAfter, 0) {
			continue
		}
		out = append(out, Finding{ID: "svid-near-expiry", Severity: High, Resources: []string{c.SPIFFEID},
			Title: fmt.Sprintf("the SVID of %s expires at %s, with less than %d%% of its lifetime left", describeCert(c), c.NotAfter.UTC().Format(time.RFC3339), int(NearExpiryFraction*100)),
			Fix:   "check that the workload's embassy-agent runs and reaches the control plane: it renews at half the lifetime"})
	}
	return out
}

func describeCert(c Certificate) string {
	if c.Workload != "" {
		return "workload " + c.Workload + " (" + c.SPIFFEID + ")"
	}
	return c.SPIFFEID
}

func rootExpiry(in Inputs) []Finding {
	var out []Finding
	for _, r := range in.Roots {
		if !r.RetireAfter.IsZero() || !nearExpiry(in.Now, r.NotBefore, r.NotAfter, RootNearExpiry) {
			continue
		}
		sev := High
		if !in.Now.Before(r.NotAfter) {
			sev = Critical
		}
		out = append(out, Finding{ID: "root-near-expiry", Severity: sev, Resources: []string{"root/" + r.Fingerprint},
			Title: fmt.Sprintf("CA root %s expires at %s", r.Subject, r.NotAfter.UTC().Format(time.RFC3339)),
			Fix:   "rotate the CA root (the builtin CA publishes a new root before it signs with it) or replace the provided CA files before the old root expires"})
	}
	return out
}

func tokenRules(in Inputs) []Finding {
	var out []Finding
	for _, t := range in.Tokens {
		expired := t.ExpiresAt != nil && !in.Now.Before(*t.ExpiresAt)
		spent := t.SingleUse && t.UsedAt != nil
		if t.Revoked || expired || spent {
			continue
		}
		res := []string{"token/" + t.ID}
		who := fmt.Sprintf("join token %s for %s/%s", t.ID, t.Namespace, t.ServiceAccount)
		if t.Uses == 0 && t.UsedAt == nil && in.Now.Sub(t.CreatedAt) > OldToken {
			out = append(out, Finding{ID: "token-unused", Severity: Medium, Resources: res,
				Title: fmt.Sprintf("%s was made %s ago and never used", who, in.Now.Sub(t.CreatedAt).Round(time.Hour)),
				Fix:   "revoke it (embassyctl token revoke " + t.ID + ") and make a short-lived one when an agent needs it"})
		}
		switch {
		case t.ExpiresAt == nil:
			out = append(out, Finding{ID: "token-never-expires", Severity: High, Resources: res,
				Title: who + " never expires: anyone who copies it can take the identity forever",
				Fix:   "revoke it and make tokens with a TTL (embassyctl token create --ttl 1h), single-use where possible"})
		case t.ExpiresAt.Sub(t.CreatedAt) > LongLivedToken:
			out = append(out, Finding{ID: "token-long-lived", Severity: Medium, Resources: res,
				Title: fmt.Sprintf("%s lives %s, longer than 7 days", who, t.ExpiresAt.Sub(t.CreatedAt).Round(time.Hour)),
				Fix:   "revoke it and make tokens with a TTL of hours, single-use where possible"})
		}
	}
	return out
}

// renewalRule finds agents whose workload is registered in the mesh but
// whose SVID was not renewed when due: agents renew at half the lifetime.
func renewalRule(in Inputs) []Finding {
	var out []Finding
	for _, c := range in.Certificates {
		if c.Workload == "" || !registered(in.Mesh, c) {
			continue
		}
		life := c.NotAfter.Sub(c.IssuedAt)
		if life <= 0 || float64(in.Now.Sub(c.IssuedAt)) <= RenewalOverdue*float64(life) {
			continue
		}
		out = append(out, Finding{ID: "agent-not-renewing", Severity: High, Resources: []string{c.SPIFFEID, "workload/" + c.Workload},
			Title: fmt.Sprintf("the agent of %s last renewed its SVID %s ago; it renews at half the %s lifetime", describeCert(c), in.Now.Sub(c.IssuedAt).Round(time.Second), life),
			Fix:   "check the agent's logs and that it reaches the control plane's xDS address; restart it if it is stuck"})
	}
	return out
}

// registered reports whether the certificate's workload (a node id
// "<workload>.<namespace>" or a bare name) is a Workload of the mesh.
func registered(snap *mesh.Snapshot, c Certificate) bool {
	if name, ns, err := dataplane.ParseNodeID(c.Workload); err == nil && snap.Workload(ns, name) != nil {
		return true
	}
	ns, _ := dataplane.IDNamespace(c.SPIFFEID)
	return snap.Workload(ns, c.Workload) != nil
}

func serverRules(in Inputs) []Finding {
	var out []Finding
	if in.InsecureXDS {
		out = append(out, Finding{ID: "insecure-xds", Severity: Critical, Resources: []string{"embassy-cp"},
			Title: "xDS is served in plaintext without client certificates (--insecure-xds): any host can read every proxy's configuration and the identity service is off",
			Fix:   "restart embassy-cp without --insecure-xds and bootstrap agents with join tokens"})
	}
	if in.AnonymousReads {
		out = append(out, Finding{ID: "anonymous-reads", Severity: Info, Resources: []string{"embassy-cp"},
			Title: "tokenless loopback clients may read the API (--anonymous-reads); writes always need the admin token",
			Fix:   "drop --anonymous-reads on shared hosts and hand out the read token instead"})
	}
	return out
}

func proxyRules(in Inputs) []Finding {
	var out []Finding
	for _, p := range in.Proxies {
		p.Types = cloneTypes(p.Types)
		status.Judge(&p, in.Now, in.StaleAfter)
		switch p.SyncState {
		case status.SyncNacked:
			msg := ""
			for _, ts := range p.Types {
				if ts.SyncState == status.SyncNacked && ts.LastNack != nil {
					msg = ts.LastNack.Message
				}
			}
			out = append(out, Finding{ID: "proxy-nacking", Severity: High, Resources: []string{"proxy/" + p.ID},
				Title: fmt.Sprintf("proxy %s rejects its configuration: %s", p.ID, msg),
				Fix:   "read embassyctl proxy-status " + p.ID + " and the control plane's diagnostics; fix the resource the message names"})
		case status.SyncStale:
			out = append(out, Finding{ID: "proxy-stale", Severity: Medium, Resources: []string{"proxy/" + p.ID},
				Title: fmt.Sprintf("proxy %s has not acknowledged its latest configuration", p.ID),
				Fix:   "check that the proxy is healthy and its xDS stream is not stuck; restart it if needed"})
		}
	}
	return out
}

func cloneTypes(m map[string]status.TypeStatus) map[string]status.TypeStatus {
	out := make(map[string]status.TypeStatus, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
