package agent

import (
	"fmt"
	"testing"
	"time"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/identity/wire"
)

// The agent reports the counts of its Check calls to the control plane on
// every stats tick, cumulative and under one Since.
func TestAuthzReportsReachTheControlPlane(t *testing.T) {
	cp := newFakeCP(t, time.Hour)
	ps, _, authz := startAuthzAgent(t, cp, nil)
	paths := compilePolicy(t, "shop/paths", pathsOK)
	audit := compilePolicy(t, "shop/audit", "default allow := false", dryRunMode)
	ps.set(t, "web-1.shop", "v1", policyResource(t, "shop/audit", audit), policyResource(t, "shop/paths", paths))
	ps.answer(t, false, "v1")
	check(t, authz, "GET", "/ok")
	check(t, authz, "GET", "/nope")
	check(t, authz, "GET", "/nope")

	want := []*wire.PolicyCounts{
		{Policy: "shop/audit", Revision: audit.Revision(), WouldDeny: 3},
		{Policy: "shop/paths", Revision: paths.Revision(), Allow: 1, Deny: 2},
	}
	var last *wire.AuthzReport
	poll.UntilState(t, "a report with the three decisions", func() (bool, string) {
		rs := cp.authzReports()
		if len(rs) == 0 {
			return false, "no report"
		}
		last = rs[len(rs)-1]
		return lastCounts(t, rs, want)
	})
	if last.Workload != "web-1.shop" || wire.TimeOf(last.Since).IsZero() {
		t.Fatalf("report for %q since %v", last.Workload, last.Since)
	}

	check(t, authz, "GET", "/ok")
	want[0].WouldDeny, want[1].Allow = 4, 2
	poll.UntilState(t, "a later report with the cumulative counts", func() (bool, string) {
		return lastCounts(t, cp.authzReports(), want)
	})
	n := len(cp.authzReports())
	poll.UntilState(t, "reports going on without new decisions", func() (bool, string) {
		got := len(cp.authzReports())
		return got >= n+2, fmt.Sprintf("%d reports, want %d", got, n+2)
	})
	for _, r := range cp.authzReports() {
		if !wire.TimeOf(r.Since).Equal(wire.TimeOf(last.Since)) {
			t.Fatalf("Since moved from %v to %v while the agent ran", last.Since, r.Since)
		}
	}
}

// A control plane that is down costs the agent nothing: Check answers and
// the next report carries the counts.
func TestAuthzReportsAreBestEffort(t *testing.T) {
	cp := newFakeCP(t, time.Hour)
	ps, _, authz := startAuthzAgent(t, cp, nil)
	paths := compilePolicy(t, "shop/paths", pathsOK)
	ps.set(t, "web-1.shop", "v1", policyResource(t, "shop/paths", paths))
	ps.answer(t, false, "v1")
	cp.setDown(true)
	if code, _ := check(t, authz, "GET", "/ok"); code != 0 {
		t.Fatalf("Check with the control plane down: code %d", code)
	}
	time.Sleep(100 * time.Millisecond)
	before := len(cp.authzReports())
	cp.setDown(false)
	poll.UntilState(t, "a report once the control plane is back", func() (bool, string) {
		rs := cp.authzReports()
		if len(rs) <= before {
			return false, fmt.Sprintf("%d reports, as before", len(rs))
		}
		last := rs[len(rs)-1].Policies
		return len(last) == 1 && last[0].Allow == 1, "last report " + mustJSON(t, last)
	})
}

// lastCounts reports whether the last of the reports counts want, and the
// counts it holds.
func lastCounts(t *testing.T, rs []*wire.AuthzReport, want []*wire.PolicyCounts) (bool, string) {
	got := mustJSON(t, rs[len(rs)-1].Policies)
	return got == mustJSON(t, want), "last report " + got
}

// A would-deny reaches the control plane within about a second, long
// before a stats tick of an hour: an operator trying a dry-run policy
// reads it at once. Allows alone send no early report.
func TestAuthzReportsAWouldDenyPromptly(t *testing.T) {
	ps := startPolicyServer(t)
	cp := newFakeCP(t, time.Hour)
	ta := startAgent(t, cp, func(c *Config) {
		c.Authz = &AuthzConfig{Dial: ps.dial, StatsInterval: time.Hour}
	})
	authz := authzClient(t, ta.dir)
	audit := compilePolicy(t, "shop/audit", "default allow := false\n\nallow if input.attributes.request.http.path == \"/ok\"", dryRunMode)
	ps.set(t, "web-1.shop", "v1", policyResource(t, "shop/audit", audit))
	ps.answer(t, false, "v1")
	check(t, authz, "GET", "/ok")
	time.Sleep(2 * PromptReportInterval)
	if n := len(cp.authzReports()); n != 0 {
		t.Fatalf("%d reports for allows alone before the stats tick", n)
	}
	check(t, authz, "GET", "/nope")
	want := []*wire.PolicyCounts{{Policy: "shop/audit", Revision: audit.Revision(), Allow: 1, WouldDeny: 1}}
	poll.Until(t, "a report of the would-deny before the hourly tick", func() bool {
		rs := cp.authzReports()
		return len(rs) > 0 && mustJSON(t, rs[len(rs)-1].Policies) == mustJSON(t, want)
	})
}
