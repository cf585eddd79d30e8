package controlplane

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"google.golang.org/protobuf/types/known/timestamppb"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/identity/wire"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/internal/syncbuf"
)

// An agent's reports reach /v1/policies under its proxy, and their deltas
// reach embassy_authz_decisions_total, which keeps growing when the agent
// restarts and its counts start again from zero.
func TestAuthzReportsReachPoliciesAndMetrics(t *testing.T) {
	logs := &syncbuf.Buffer{}
	cp := startCP(t, t.TempDir(), logs, func(c *Config) { c.AnonymousReads = true })
	defer cp.Close()
	applyYAML(t, cp, meshAuthz)
	web, _ := attest(t, cp, "shop", "web")

	// The proxy asks for its bundles, so it is listed as connected.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := dialXDS(t, cp, &web).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &core.Node{Id: "web-1.shop", UserAgentName: "embassy-agent"}
	if err := stream.Send(&discovery.DiscoveryRequest{TypeUrl: resourcev3.ExtensionConfigType, Node: node}); err != nil {
		t.Fatal(err)
	}
	recvUntil(t, stream, node, func(r *discovery.DiscoveryResponse) bool { return len(r.GetResources()) > 0 })
	rev := policyState(t, cp, "web-methods").Revision
	poll.Until(t, "the ACK of the bundles is recorded", func() bool {
		ps := policyState(t, cp, "web-methods").Proxies
		return len(ps) == 1 && ps[0].Current
	})

	c := dialIdentity(t, cp, web.cert)
	report := func(since time.Time, allow, deny uint64) {
		t.Helper()
		err := c.ReportAuthz(ctx, &wire.AuthzReport{Workload: "web-1.shop", Since: timestamppb.New(since), Policies: []*wire.PolicyCounts{
			{Policy: "shop/web-methods", Revision: rev, Allow: allow, Deny: deny},
			{Policy: "shop/by-label", Revision: "r-label", WouldDeny: 1},
		}})
		if err != nil {
			t.Fatalf("report: %v", err)
		}
	}
	started := time.Now()
	report(started, 3, 1)
	st := policyState(t, cp, "web-methods")
	if len(st.Proxies) != 1 || st.Proxies[0].ID != "web-1.shop" || !st.Proxies[0].Current || st.Proxies[0].Decisions == nil {
		t.Fatalf("proxies of web-methods: %+v", st.Proxies)
	}
	d := st.Proxies[0].Decisions
	if d.Revision != rev || d.Allow != 3 || d.Deny != 1 || d.WouldDeny != 0 || d.Error != 0 || time.Since(d.ReportedAt) > time.Minute {
		t.Fatalf("decisions of web-1.shop: %+v", d)
	}
	if st.Decisions != (apiwire.DecisionCounts{Allow: 3, Deny: 1}) {
		t.Fatalf("totals: %+v", st.Decisions)
	}
	if other := policyState(t, cp, "pay-only"); len(other.Proxies) != 0 || other.Decisions != (apiwire.DecisionCounts{}) {
		t.Fatalf("a policy nobody reported: %+v", other)
	}
	wantMetrics(t, cp, map[string]int{
		`embassy_authz_decisions_total{decision="allow",policy="shop/web-methods"}`:   3,
		`embassy_authz_decisions_total{decision="deny",policy="shop/web-methods"}`:    1,
		`embassy_authz_decisions_total{decision="would-deny",policy="shop/by-label"}`: 1,
	})

	report(started, 5, 1)
	wantMetrics(t, cp, map[string]int{
		`embassy_authz_decisions_total{decision="allow",policy="shop/web-methods"}`:   5,
		`embassy_authz_decisions_total{decision="deny",policy="shop/web-methods"}`:    1,
		`embassy_authz_decisions_total{decision="would-deny",policy="shop/by-label"}`: 1,
	})

	// The agent restarts: its counts start again, and are all new.
	report(started.Add(time.Minute), 2, 1)
	wantMetrics(t, cp, map[string]int{
		`embassy_authz_decisions_total{decision="allow",policy="shop/web-methods"}`:   7,
		`embassy_authz_decisions_total{decision="deny",policy="shop/web-methods"}`:    2,
		`embassy_authz_decisions_total{decision="would-deny",policy="shop/by-label"}`: 2,
	})
	if d := policyState(t, cp, "web-methods").Proxies[0].Decisions; d.Allow != 2 || d.Deny != 1 {
		t.Fatalf("/v1/policies after the restart shows %+v, want the latest report", d)
	}

	// A policy the mesh does not hold makes no series.
	if err := c.ReportAuthz(ctx, &wire.AuthzReport{Workload: "web-1.shop", Since: timestamppb.New(started), Policies: []*wire.PolicyCounts{{Policy: "shop/made-up", Allow: 9}}}); err != nil {
		t.Fatal(err)
	}
	if m := string(getAPI(t, cp, "/metrics")); strings.Contains(m, "shop/made-up") {
		t.Fatal("a made-up policy reached the metrics")
	}
}

// policyState reads one shop policy from GET /v1/policies.
func policyState(t *testing.T, cp *ControlPlane, name string) apiwire.PolicyStatus {
	t.Helper()
	var out apiwire.PoliciesResponse
	if err := json.Unmarshal(getAPI(t, cp, "/v1/policies"), &out); err != nil {
		t.Fatal(err)
	}
	for _, p := range out.Policies {
		if p.Namespace == "shop" && p.Name == name {
			return p
		}
	}
	t.Fatalf("no policy shop/%s in /v1/policies: %s", name, getAPI(t, cp, "/v1/policies"))
	return apiwire.PolicyStatus{}
}

// wantMetrics scrapes /metrics and checks each sample's value.
func wantMetrics(t *testing.T, cp *ControlPlane, want map[string]int) {
	t.Helper()
	got := map[string]string{}
	for line := range strings.Lines(string(getAPI(t, cp, "/metrics"))) {
		if name, val, ok := strings.Cut(strings.TrimSpace(line), " "); ok && !strings.HasPrefix(name, "#") {
			got[name] = val
		}
	}
	for sample, n := range want {
		if v := got[sample]; v != strconv.Itoa(n) {
			t.Errorf("%s = %q, want %d", sample, v, n)
		}
	}
}

// getAPI reads path from the API anonymously (the test's API is loopback).
func getAPI(t *testing.T, cp *ControlPlane, path string) []byte {
	t.Helper()
	resp, err := http.Get("http://" + cp.APIAddr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%s", path, resp.StatusCode, err, body)
	}
	return body
}

// A policy enforced with RBAC lives in the listeners of its workloads'
// proxies, which ask for no bundles: /v1/policies must list those proxies
// too, not an empty list.
func TestPoliciesListTheProxiesThatEnforceThemWithRBAC(t *testing.T) {
	logs := &syncbuf.Buffer{}
	cp := startCP(t, t.TempDir(), logs, func(c *Config) { c.AnonymousReads = true })
	defer cp.Close()
	applyYAML(t, cp, meshAuthz)
	poll.Until(t, "the applied policies in the mesh", func() bool {
		return strings.Contains(string(getAPI(t, cp, "/v1/policies")), `"web-methods"`)
	})
	web, _ := attest(t, cp, "shop", "web")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := dialXDS(t, cp, &web).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &core.Node{Id: "web-1.shop"}
	if err := stream.Send(&discovery.DiscoveryRequest{TypeUrl: resourcev3.ListenerType, Node: node}); err != nil {
		t.Fatal(err)
	}
	recvUntil(t, stream, node, func(r *discovery.DiscoveryResponse) bool { return r.GetTypeUrl() == resourcev3.ListenerType })
	if st := policyState(t, cp, "web-methods"); st.Enforcement != apiwire.EnforcedByRBAC {
		t.Fatalf("web-methods is enforced by %s (%s), want rbac for this test", st.Enforcement, st.Reason)
	}
	poll.Until(t, "the sidecar listed under the policy it enforces, acked", func() bool {
		ps := policyState(t, cp, "web-methods").Proxies
		return len(ps) == 1 && ps[0].ID == "web-1.shop" && ps[0].Current
	})
	if ps := policyState(t, cp, "pay-only").Proxies; len(ps) != 0 {
		t.Fatalf("a policy of another workload lists %+v", ps)
	}
}

// A dry-run policy that compiles to RBAC is still decided by the agents
// (RBAC cannot report would-denies): /v1/policies must say ext_authz and
// why, not rbac.
func TestDryRunPoliciesAreReportedAsTheAgentsToDecide(t *testing.T) {
	logs := &syncbuf.Buffer{}
	cp := startCP(t, t.TempDir(), logs, func(c *Config) { c.AnonymousReads = true })
	defer cp.Close()
	dryRun := strings.Replace(policyDoc("web-methods", "services: [web]", `input.attributes.request.http.method == "GET"`),
		"  modules:", "  mode: dry-run\n  modules:", 1)
	applyYAML(t, cp, meshtest.ServiceWebShop+"---\n"+dryRun)
	poll.Until(t, "the applied policy in the mesh", func() bool {
		return strings.Contains(string(getAPI(t, cp, "/v1/policies")), `"web-methods"`)
	})
	st := policyState(t, cp, "web-methods")
	if st.Mode != "dry-run" || st.Enforcement != apiwire.EnforcedByExtAuthz || !strings.Contains(st.Reason, "the agents decide it") {
		t.Fatalf("a dry-run policy is reported as %s (%s), mode %s", st.Enforcement, st.Reason, st.Mode)
	}
}
