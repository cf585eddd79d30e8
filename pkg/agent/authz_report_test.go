package agent

import (
	"testing"
	"time"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/identity/wire"
)

// The agent reports the counts of its Check calls to the control plane on
// every stats tick, cumulative and under one Since.
func TestAuthzReportsReachTheControlPlane(t *testing.T) {
	ps := startPolicyServer(t)
	cp := newFakeCP(t, time.Hour)
	ta := startAgent(t, cp, func(c *Config) {
		c.Authz = &AuthzConfig{Dial: ps.dial, StatsInterval: 20 * time.Millisecond}
	})
	authz := authzClient(t, ta.dir)
	paths := compilePolicy(t, "shop/paths", "default allow := false\n\nallow if input.attributes.request.http.path == \"/ok\"")
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
	poll.Until(t, "a report with the three decisions", func() bool {
		rs := cp.authzReports()
		if len(rs) == 0 {
			return false
		}
		last = rs[len(rs)-1]
		return mustJSON(t, last.Policies) == mustJSON(t, want)
	})
	if last.Workload != "web-1.shop" || wire.TimeOf(last.Since).IsZero() {
		t.Fatalf("report for %q since %v", last.Workload, last.Since)
	}

	check(t, authz, "GET", "/ok")
	want[0].WouldDeny, want[1].Allow = 4, 2
	poll.Until(t, "a later report with the cumulative counts", func() bool {
		rs := cp.authzReports()
		return mustJSON(t, rs[len(rs)-1].Policies) == mustJSON(t, want)
	})
	n := len(cp.authzReports())
	poll.Until(t, "reports going on without new decisions", func() bool { return len(cp.authzReports()) >= n+2 })
	for _, r := range cp.authzReports() {
		if !wire.TimeOf(r.Since).Equal(wire.TimeOf(last.Since)) {
			t.Fatalf("Since moved from %v to %v while the agent ran", last.Since, r.Since)
		}
	}
}

// A control plane that is down costs the agent nothing: Check answers and
// the next report carries the counts.
func TestAuthzReportsAreBestEffort(t *testing.T) {
	ps := startPolicyServer(t)
	cp := newFakeCP(t, time.Hour)
	ta := startAgent(t, cp, func(c *Config) {
		c.Authz = &AuthzConfig{Dial: ps.dial, StatsInterval: 20 * time.Millisecond}
	})
	authz := authzClient(t, ta.dir)
	paths := compilePolicy(t, "shop/paths", "default allow := false\n\nallow if input.attributes.request.http.path == \"/ok\"")
	ps.set(t, "web-1.shop", "v1", policyResource(t, "shop/paths", paths))
	ps.answer(t, false, "v1")
	cp.setDown(true)
	if code, _ := check(t, authz, "GET", "/ok"); code != 0 {
		t.Fatalf("Check with the control plane down: code %d", code)
	}
	time.Sleep(100 * time.Millisecond)
	before := len(cp.authzReports())
	cp.setDown(false)
	poll.Until(t, "a report once the control plane is back", func() bool {
		rs := cp.authzReports()
		return len(rs) > before && len(rs[len(rs)-1].Policies) == 1 && rs[len(rs)-1].Policies[0].Allow == 1
	})
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
