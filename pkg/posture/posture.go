// Package posture audits a mesh's security posture: it reads the mesh
// snapshot, the join tokens, the CA's roots, the certificates issued and
// the proxies' sync states, and reports each weakness as a finding with a
// severity and a fix. It is pure over its Inputs, so every rule is tested
// with a mesh seeded with exactly that weakness.
package posture

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/status"
	"embassy.dev/embassy/pkg/whatif"
)

// Severity ranks a finding.
type Severity string

// The severities, from worst to mildest.
const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
	Info     Severity = "info"
)

// Severities lists every severity from worst to mildest.
var Severities = []Severity{Critical, High, Medium, Low, Info}

// Rank is 0 for critical up to 4 for info, and 5 for an unknown severity.
func (s Severity) Rank() int {
	for i, v := range Severities {
		if v == s {
			return i
		}
	}
	return len(Severities)
}

// ParseSeverity accepts a severity's name in any case.
func ParseSeverity(s string) (Severity, error) {
	v := Severity(strings.ToLower(s))
	if v.Rank() == len(Severities) {
		return "", fmt.Errorf("severity %q: expected critical, high, medium, low or info", s)
	}
	return v, nil
}

// Finding is one weakness.
type Finding struct {
	// ID names the rule that found it, e.g. "mtls-permissive".
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	// Resources are what is involved: resource keys (Kind/ns/name), token
	// ids, root fingerprints, SPIFFE IDs or proxy ids.
	Resources []string `json:"resources"`
	Fix       string   `json:"fix"`
}

// Report is the whole audit.
type Report struct {
	GeneratedAt time.Time `json:"generatedAt"`
	Revision    int64     `json:"revision"`
	// Findings are sorted worst first, then by id and resources.
	Findings []Finding `json:"findings"`
	// Counts is the number of findings per severity.
	Counts map[Severity]int `json:"counts"`
}

// AtOrAbove reports the findings at least as severe as s.
func (r *Report) AtOrAbove(s Severity) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Severity.Rank() <= s.Rank() {
			out = append(out, f)
		}
	}
	return out
}

// Certificate is the latest SVID of one agent.
type Certificate struct {
	Workload string
	SPIFFEID string
	IssuedAt time.Time
	NotAfter time.Time
}

// Inputs is everything the audit reads. Zero fields are skipped: a
// control plane without a CA has no roots or certificates to judge.
type Inputs struct {
	Now  time.Time
	Mesh *mesh.Snapshot
	// Tokens are the join tokens, Roots the CA's roots, Certificates the
	// latest SVID per agent.
	Tokens       []identity.TokenInfo
	Roots        []identity.RootInfo
	Certificates []Certificate
	// Proxies are the connected proxies; their sync states are judged
	// here with StaleAfter (status.DefaultStaleAfter when zero).
	Proxies    []status.Proxy
	StaleAfter time.Duration
	// InsecureXDS is set when xDS is served in plaintext; AnonymousReads
	// when tokenless loopback reads are allowed.
	InsecureXDS    bool
	AnonymousReads bool
	// Decide decides with policies for the allow-all rule; nil is
	// whatif.LocalDecide. The control plane passes its Rego sandbox, so
	// an audit runs no policy outside the deadline and memory budget.
	Decide whatif.DecideFunc
}

// Thresholds of the rules.
const (
	// NearExpiryFraction: a certificate with less than this share of its
	// lifetime left is near expiry.
	NearExpiryFraction = 0.2
	// RootNearExpiry: a root with less than this left is near expiry too.
	RootNearExpiry = 24 * time.Hour
	// OldToken: an unused token older than this should be revoked.
	OldToken = 24 * time.Hour
	// LongLivedToken: a token living longer than this is long-lived.
	LongLivedToken = 7 * 24 * time.Hour
	// RenewalOverdue: agents renew at half the lifetime; one that has not
	// by this share of it has stopped renewing.
	RenewalOverdue = 0.6
)

// Audit runs every rule over in.
func Audit(in Inputs) Report {
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	if in.Mesh == nil {
		in.Mesh = mesh.New(0, nil)
	}
	if in.StaleAfter <= 0 {
		in.StaleAfter = status.DefaultStaleAfter
	}
	var fs []Finding
	for _, rule := range []func(Inputs) []Finding{
		mtlsRule, unprotectedServices, excludedWorkloads, dryRunPolicies, allowAllPolicies,
		certificateExpiry, rootExpiry, tokenRules, renewalRule, serverRules, proxyRules,
	} {
		fs = append(fs, rule(in)...)
	}
	for i := range fs {
		sort.Strings(fs[i].Resources)
	}
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Severity.Rank() != b.Severity.Rank() {
			return a.Severity.Rank() < b.Severity.Rank()
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		return strings.Join(a.Resources, ",") < strings.Join(b.Resources, ",")
	})
	counts := map[Severity]int{}
	for _, f := range fs {
		counts[f.Severity]++
	}
	if fs == nil {
		fs = []Finding{}
	}
	return Report{GeneratedAt: in.Now, Revision: in.Mesh.Revision, Findings: fs, Counts: counts}
}
