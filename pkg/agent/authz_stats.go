package agent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"embassy.dev/embassy/pkg/identity/wire"
	"embassy.dev/embassy/policy/extauthz"
)

// AuthzStatsFile, in the socket directory, holds the authorization
// decisions counted per policy (AuthzStats as JSON), rewritten every
// AuthzConfig.StatsInterval and when the agent stops.
const AuthzStatsFile = "authz-stats.json"

// AuthzStats is what the agent's authorization side has loaded and
// decided since it started.
type AuthzStats struct {
	// Synced is false until the control plane's first answer; every
	// request is denied until then.
	Synced bool `json:"synced"`
	// DeniedUnsynced counts the requests denied before that answer.
	DeniedUnsynced uint64 `json:"deniedUnsynced"`
	// DecisionLogsDropped counts the decision lines dropped because the
	// log's writer fell a whole buffer behind (Check never waits for it).
	DecisionLogsDropped uint64 `json:"decisionLogsDropped"`
	// Policies are the policies targeting the workload, by name.
	Policies []PolicyStats `json:"policies"`
	// Time is when the stats were taken.
	Time time.Time `json:"time"`
}

// PolicyStats is one policy's revision and decisions. Counts restart when
// the policy stops targeting the workload.
type PolicyStats struct {
	// Policy is "<namespace>/<policy>".
	Policy string `json:"policy"`
	// Revision is the revision deciding now; "" when none ever loaded, in
	// which case the policy denies every request.
	Revision string `json:"revision"`
	// LoadError says why the last revision received did not load.
	LoadError string `json:"loadError,omitempty"`
	extauthz.Counts
	// Cache is what the decision cache did, and on which input fields it
	// keys the current revision; absent when the cache is off.
	Cache *extauthz.CacheStats `json:"cache,omitempty"`
}

// Stats returns the policies' revisions and decision counts. Decisions
// made before a policy's first revision loaded count as errors.
func (a *Authz) Stats() AuthzStats {
	a.mu.RLock()
	defer a.mu.RUnlock()
	st := AuthzStats{Synced: a.synced, DeniedUnsynced: a.unsynced.Load(), DecisionLogsDropped: a.decisions.Dropped(), Policies: make([]PolicyStats, 0, len(a.policies)), Time: time.Now().UTC()}
	for _, p := range a.policies {
		ps := PolicyStats{Policy: p.name, Revision: p.engine.Revision(), LoadError: p.loadErr, Cache: p.check.CacheStats()}
		// One engine decides, so its counts are keyed by its bundle's
		// name, and by "" for decisions made before it loaded.
		for _, c := range p.check.Counts() {
			ps.Allow += c.Allow
			ps.Deny += c.Deny
			ps.WouldDeny += c.WouldDeny
			ps.Error += c.Error
		}
		st.Policies = append(st.Policies, ps)
	}
	return st
}

// notAllowed counts every decision that was not an allow (denies,
// would-denies, errors, and denials before the first policy set), so a
// change of it says a report is worth sending before the next tick.
func (a *Authz) notAllowed() uint64 {
	st := a.Stats()
	n := st.DeniedUnsynced
	for _, p := range st.Policies {
		n += p.Deny + p.WouldDeny + p.Error
	}
	return n
}

// Report is Stats in the form the control plane's ReportAuthz takes, for
// the workload with node id "<name>.<namespace>".
func (a *Authz) Report(workload string) *wire.AuthzReport {
	st := a.Stats()
	r := &wire.AuthzReport{Workload: workload, Policies: make([]*wire.PolicyCounts, 0, len(st.Policies)), Since: timestamppb.New(a.started)}
	for _, p := range st.Policies {
		r.Policies = append(r.Policies, &wire.PolicyCounts{
			Policy: p.Policy, Revision: p.Revision,
			Allow: p.Allow, Deny: p.Deny, WouldDeny: p.WouldDeny, Error: p.Error,
		})
	}
	return r
}

// WriteStats writes Stats to dir/AuthzStatsFile atomically, readable by
// the agent's group like the sockets.
func (a *Authz) WriteStats(dir string) error {
	raw, err := json.MarshalIndent(a.Stats(), "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+AuthzStatsFile+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o640); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, AuthzStatsFile))
}
