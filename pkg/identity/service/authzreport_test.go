package service

import (
	"reflect"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"embassy.dev/embassy/pkg/identity/wire"
)

// An agent's report over mTLS is kept under its workload and identity and
// its decisions are handed on as deltas from the previous report.
func TestReportAuthzStoresTheCallersReport(t *testing.T) {
	e := newEnv(t)
	a := e.agent()
	id := e.attest(a, e.token("shop", "web", "", time.Hour, false), "")
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	report := &wire.AuthzReport{Workload: "web-1.shop", Since: timestamppb.New(since), Policies: []*wire.PolicyCounts{
		{Policy: "shop/paths", Revision: "r1", Allow: 3, Deny: 1},
		{Policy: "shop/audit", Revision: "r2", WouldDeny: 2, Error: 1},
	}}
	if err := a.c.ReportAuthz(ctx(t), report); err != nil {
		t.Fatalf("report: %v", err)
	}
	got := e.svc.AuthzReports()
	if len(got) != 1 {
		t.Fatalf("reports: %+v", got)
	}
	r := got[0]
	if r.Workload != "web-1.shop" || r.Namespace != "shop" || r.Name != "web-1" || r.SPIFFEID != id.String() || !r.Since.Equal(since) || r.ReportedAt.IsZero() {
		t.Fatalf("record: %+v", r)
	}
	if r.Policies[0].Policy != "shop/audit" || r.Policies[1].Policy != "shop/paths" || r.Policies[1].Allow != 3 {
		t.Fatalf("policies, sorted: %+v", r.Policies)
	}

	report.Policies[0].Allow = 5
	if err := a.c.ReportAuthz(ctx(t), report); err != nil {
		t.Fatalf("second report: %v", err)
	}
	want := []AuthzDelta{
		{Policy: "shop/audit", WouldDeny: 2, Errs: 1},
		{Policy: "shop/paths", Allow: 3, Deny: 1},
		{Policy: "shop/paths", Allow: 2},
	}
	if got := e.authzDeltas(); !reflect.DeepEqual(got, want) {
		t.Fatalf("deltas\n got %+v\nwant %+v", got, want)
	}
	if got := e.svc.AuthzReports(); len(got) != 1 || got[0].Policies[1].Allow != 5 {
		t.Fatalf("the latest report replaces the previous one: %+v", got)
	}
}

// An agent reports only for its own namespace and policies, and only with
// a certificate.
func TestReportAuthzRefusals(t *testing.T) {
	e := newEnv(t)
	anon := e.agent()
	if err := anon.c.ReportAuthz(ctx(t), &wire.AuthzReport{Workload: "web-1.shop"}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("without a certificate: %v", err)
	}
	a := e.agent()
	e.attest(a, e.token("shop", "web", "web-1", time.Hour, false), "web-1")
	for _, tc := range []struct {
		name   string
		report *wire.AuthzReport
		code   codes.Code
	}{
		{"another namespace", &wire.AuthzReport{Workload: "web-1.bank"}, codes.PermissionDenied},
		{"another workload than the token's", &wire.AuthzReport{Workload: "web-2.shop"}, codes.PermissionDenied},
		{"not a node id", &wire.AuthzReport{Workload: "web-1"}, codes.InvalidArgument},
		{"another namespace's policy", &wire.AuthzReport{Workload: "web-1.shop", Policies: []*wire.PolicyCounts{{Policy: "bank/vault", Allow: 1}}}, codes.InvalidArgument},
	} {
		if err := a.c.ReportAuthz(ctx(t), tc.report); status.Code(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	if got := e.svc.AuthzReports(); len(got) != 0 {
		t.Fatalf("refused reports were kept: %+v", got)
	}
	if got := e.authzDeltas(); len(got) != 0 {
		t.Fatalf("refused reports were counted: %+v", got)
	}
}

func TestAuthzDeltas(t *testing.T) {
	t0, t1 := time.Unix(100, 0), time.Unix(200, 0)
	rec := func(since time.Time, ps ...*wire.PolicyCounts) AuthzReportRecord {
		return AuthzReportRecord{Since: since, Policies: ps}
	}
	prev := rec(t0, &wire.PolicyCounts{Policy: "shop/a", Allow: 10, Deny: 4}, &wire.PolicyCounts{Policy: "shop/b", Error: 2})
	for _, tc := range []struct {
		name string
		prev *AuthzReportRecord
		cur  AuthzReportRecord
		want []AuthzDelta
	}{
		{"first report", nil, prev, []AuthzDelta{{Policy: "shop/a", Allow: 10, Deny: 4}, {Policy: "shop/b", Errs: 2}}},
		{"growth", &prev, rec(t0, &wire.PolicyCounts{Policy: "shop/a", Allow: 12, Deny: 4}, &wire.PolicyCounts{Policy: "shop/b", Error: 2}),
			[]AuthzDelta{{Policy: "shop/a", Allow: 2}}},
		{"agent restarted", &prev, rec(t1, &wire.PolicyCounts{Policy: "shop/a", Allow: 30, Deny: 5}),
			[]AuthzDelta{{Policy: "shop/a", Allow: 30, Deny: 5}}},
		{"counts dropped", &prev, rec(t0, &wire.PolicyCounts{Policy: "shop/a", Allow: 3, Deny: 6}),
			[]AuthzDelta{{Policy: "shop/a", Allow: 3, Deny: 2}}},
		{"new policy", &prev, rec(t0, prev.Policies[0], prev.Policies[1], &wire.PolicyCounts{Policy: "shop/c", WouldDeny: 1}),
			[]AuthzDelta{{Policy: "shop/c", WouldDeny: 1}}},
		{"nothing new", &prev, prev, nil},
	} {
		if got := AuthzDeltas(tc.prev, tc.cur); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestAuthzReportsAreForgottenAfterTheirTTL(t *testing.T) {
	r := newAuthzReports()
	now := time.Now()
	r.latest[reportKey{"web-1.shop", "a"}] = AuthzReportRecord{ReportedAt: now.Add(-AuthzReportTTL)}
	r.latest[reportKey{"web-2.shop", "a"}] = AuthzReportRecord{ReportedAt: now.Add(-AuthzReportTTL + time.Second)}
	r.prune(now)
	if _, ok := r.latest[reportKey{"web-2.shop", "a"}]; len(r.latest) != 1 || !ok {
		t.Fatalf("after pruning: %+v", r.latest)
	}
}
