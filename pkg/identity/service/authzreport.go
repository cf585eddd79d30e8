package service

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/identity/wire"
)

// AuthzReportTTL is how long a workload's last authorization report is
// kept without a newer one; agents report every 10 seconds, so a workload
// silent this long is gone or cut off. Its next report, if one comes,
// counts in full, as an agent's first does.
const AuthzReportTTL = 10 * time.Minute

// maxReportedPolicies bounds the policies of one report: an agent holds
// only the policies that target its workload.
const maxReportedPolicies = 1000

// AuthzReportRecord is the latest authorization report of one workload
// from one agent identity.
type AuthzReportRecord struct {
	// Workload is the node id "<name>.<namespace>"; Namespace and Name
	// are its parts.
	Workload, Namespace, Name string
	// SPIFFEID is the reporting agent's identity.
	SPIFFEID string
	// Since is when the agent started counting; ReportedAt is when the
	// report arrived.
	Since, ReportedAt time.Time
	// Policies are the cumulative counts, sorted by policy.
	Policies []*wire.PolicyCounts
}

// AuthzDelta is how many decisions of each kind one policy made between
// two successive reports of a workload.
type AuthzDelta struct {
	Policy                       string
	Allow, Deny, WouldDeny, Errs uint64
}

// authzReports keeps the latest report per workload and agent identity.
type authzReports struct {
	mu     sync.Mutex
	latest map[reportKey]AuthzReportRecord
}

type reportKey struct{ workload, spiffeID string }

func newAuthzReports() *authzReports {
	return &authzReports{latest: map[reportKey]AuthzReportRecord{}}
}

// reportAuthz stores the caller's report and hands the decisions made
// since its previous one to Config.OnAuthzDecisions.
func (s *Service) reportAuthz(ctx context.Context, req *wire.AuthzReport) (*wire.ReportAuthzResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	name, ns, err := dataplane.ParseNodeID(req.Workload)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "the report's workload: %v", err)
	}
	if ns != c.ns {
		return nil, status.Errorf(codes.PermissionDenied, "workload %q is in namespace %q but the certificate is %s (namespace %q): an agent reports only for its own namespace",
			req.Workload, ns, c.id, c.ns)
	}
	scope, err := s.scopeOf(c, "authorization report")
	if err != nil {
		return nil, err
	}
	if err := mayUseName(scope, name); err != nil {
		return nil, err
	}
	if len(req.Policies) > maxReportedPolicies {
		return nil, status.Errorf(codes.InvalidArgument, "the report names %d policies, more than %d", len(req.Policies), maxReportedPolicies)
	}
	for _, p := range req.Policies {
		if pns, _, ok := strings.Cut(p.Policy, "/"); !ok || pns != c.ns {
			return nil, status.Errorf(codes.InvalidArgument, "policy %q is not <namespace>/<name> in namespace %q", p.Policy, c.ns)
		}
	}
	rec := AuthzReportRecord{
		Workload: req.Workload, Namespace: ns, Name: name, SPIFFEID: c.id.String(),
		Since: wire.TimeOf(req.Since), ReportedAt: s.cfg.Now(),
		Policies: append([]*wire.PolicyCounts(nil), req.Policies...),
	}
	sort.Slice(rec.Policies, func(i, j int) bool { return rec.Policies[i].Policy < rec.Policies[j].Policy })
	key := reportKey{workload: req.Workload, spiffeID: rec.SPIFFEID}
	s.reports.mu.Lock()
	prev, had := s.reports.latest[key]
	s.reports.latest[key] = rec
	s.reports.mu.Unlock()
	if s.cfg.OnAuthzDecisions != nil {
		var before *AuthzReportRecord
		if had {
			before = &prev
		}
		if ds := AuthzDeltas(before, rec); len(ds) > 0 {
			s.cfg.OnAuthzDecisions(ds)
		}
	}
	s.log.Trace("authorization report", "workload", req.Workload, "spiffe_id", rec.SPIFFEID, "policies", len(rec.Policies))
	return &wire.ReportAuthzResponse{}, nil
}

// AuthzDeltas are the decisions per policy made between prev and cur, two
// cumulative reports of one agent (prev nil for its first). Counts that
// went down, or a new Since, mean the agent or the policy started counting
// again, so the new count is all new decisions: a counter fed with these
// never goes down. Policies without new decisions are left out.
func AuthzDeltas(prev *AuthzReportRecord, cur AuthzReportRecord) []AuthzDelta {
	before := map[string]*wire.PolicyCounts{}
	if prev != nil && prev.Since.Equal(cur.Since) {
		for _, p := range prev.Policies {
			before[p.Policy] = p
		}
	}
	var out []AuthzDelta
	for _, p := range cur.Policies {
		b := before[p.Policy]
		d := AuthzDelta{Policy: p.Policy, Allow: delta(b.GetAllow(), p.Allow), Deny: delta(b.GetDeny(), p.Deny),
			WouldDeny: delta(b.GetWouldDeny(), p.WouldDeny), Errs: delta(b.GetError(), p.Error)}
		if d.Allow+d.Deny+d.WouldDeny+d.Errs > 0 {
			out = append(out, d)
		}
	}
	return out
}

// delta is cur-prev, or cur when the count restarted.
func delta(prev, cur uint64) uint64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}

// AuthzReports returns the latest report of every workload and agent
// identity heard from within AuthzReportTTL, sorted by workload then
// identity.
func (s *Service) AuthzReports() []AuthzReportRecord {
	s.reports.prune(s.cfg.Now())
	s.reports.mu.Lock()
	out := make([]AuthzReportRecord, 0, len(s.reports.latest))
	for _, r := range s.reports.latest {
		out = append(out, r)
	}
	s.reports.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Workload != out[j].Workload {
			return out[i].Workload < out[j].Workload
		}
		return out[i].SPIFFEID < out[j].SPIFFEID
	})
	return out
}

// prune forgets the reports older than AuthzReportTTL, so the map stays
// as large as the set of live agents.
func (r *authzReports) prune(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, rec := range r.latest {
		if now.Sub(rec.ReportedAt) >= AuthzReportTTL {
			delete(r.latest, k)
		}
	}
}
