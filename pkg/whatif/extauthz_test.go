package whatif

import (
	"context"
	"path/filepath"
	"sort"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"embassy.dev/embassy/internal/authztest"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// agentAuthz runs the agent's ext_authz server for one policy's bundle on
// a unix socket and returns a client of it.
func agentAuthz(t *testing.T, p *mesh.AuthorizationPolicy) authv3.AuthorizationClient {
	t.Helper()
	b, err := BundleOf(p)
	if err != nil {
		t.Fatal(err)
	}
	client, _ := authztest.Serve(t, b)
	return client
}

// exampleSnapshots decodes every example mesh that has policies.
func exampleSnapshots(t *testing.T) map[string]*mesh.Snapshot {
	t.Helper()
	dirs, err := filepath.Glob("../../examples/*")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*mesh.Snapshot{}
	for _, dir := range dirs {
		if yamls, _ := filepath.Glob(filepath.Join(dir, "*.yaml")); len(yamls) == 0 {
			continue
		}
		rs, err := resource.DecodePath(dir)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if snap := mesh.New(1, rs); len(snap.AuthorizationPolicies) > 0 {
			out[filepath.Base(dir)] = snap
		}
	}
	if len(out) < 2 {
		t.Fatalf("found example meshes with policies %v, want quickstart and bookstore", out)
	}
	return out
}

// targetedServices lists "svc.ns" of every service a policy's workloads back.
func targetedServices(snap *mesh.Snapshot, p *mesh.AuthorizationPolicy) []string {
	set := map[string]bool{}
	for _, w := range snap.Workloads {
		if w.Namespace == p.Namespace && mesh.Targets(p, w) {
			for _, s := range w.Spec.Services {
				if snap.Service(mesh.ServiceRef{Namespace: w.Namespace, Name: s}) != nil {
					set[s+"."+w.Namespace] = true
				}
			}
		}
	}
	var out []string
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// TestCheckDecidesAsTheAgentsExtAuthz asks, for every AuthorizationPolicy
// of the examples and a spread of requests, both what-if and the agent's
// ext_authz server loaded with the same bundle, and wants one answer.
func TestCheckDecidesAsTheAgentsExtAuthz(t *testing.T) {
	callers := []string{
		"spiffe://bookstore.example/ns/shop/sa/checkout",
		"spiffe://bookstore.example/ns/web/sa/frontend",
		"spiffe://bookstore.example/ns/shop/sa/catalog",
		"spiffe://embassy.local/ns/default/sa/default",
		"spiffe://evil.example/ns/x/sa/y",
		"",
	}
	requests := []struct{ method, path string }{
		{"GET", "/"},
		{"POST", "/bookstore.payments.v1.Payments/Charge"},
		{"GET", "/bookstore.payments.v1.Payments/Refund?x=1"},
		{"HEAD", "/reviews/42"},
		{"DELETE", "/reviews/42"},
		{"POST", "/bookstore.users.v1.Admin/Delete"},
		{"POST", "/bookstore.users.v1.Users/Get"},
		{"POST", "/embassy.demo.Echo/Say"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	outcomes := map[bool]int{}
	checked := 0
	for name, snap := range exampleSnapshots(t) {
		for _, p := range snap.AuthorizationPolicies {
			svcs := targetedServices(snap, p)
			if len(svcs) == 0 {
				t.Errorf("%s: policy %s/%s targets no service's workload", name, p.Namespace, p.Name)
				continue
			}
			client := agentAuthz(t, p)
			for _, to := range svcs {
				for _, from := range callers {
					for _, r := range requests {
						q := Query{From: from, To: to, Method: r.method, Path: r.path, Headers: map[string]string{"x-request-id": "abc"}}
						a, err := Check(ctx, snap, q, Options{})
						if err != nil {
							t.Fatalf("%s %+v: %v", name, q, err)
						}
						d := decisionOf(a, p)
						if d == nil {
							t.Fatalf("%s %+v: no decision of %s/%s in %+v", name, q, p.Namespace, p.Name, a.Authorization)
						}
						resp, err := client.Check(ctx, CheckRequest(q, a.Destination, workloadIDFor(snap, a)))
						if err != nil {
							t.Fatal(err)
						}
						agentPermits := resp.GetStatus().GetCode() == 0
						if d.Permitted != agentPermits {
							t.Errorf("%s %s/%s %+v: what-if permits=%t (%s), agent permits=%t", name, p.Namespace, p.Name, q, d.Permitted, d.Reason, agentPermits)
						}
						if d.Revision == "" || d.Reason == "" {
							t.Errorf("%s %+v: decision without revision or reason: %+v", name, q, d)
						}
						outcomes[d.Allowed]++
						checked++
					}
				}
			}
		}
	}
	if outcomes[true] == 0 || outcomes[false] == 0 {
		t.Fatalf("the requests never exercised both verdicts: %v", outcomes)
	}
	t.Logf("%d decisions agree", checked)
}

func decisionOf(a *Answer, p *mesh.AuthorizationPolicy) *PolicyDecision {
	for i := range a.Authorization {
		if a.Authorization[i].Policy == p.Namespace+"/"+p.Name {
			return &a.Authorization[i]
		}
	}
	return nil
}

func workloadIDFor(snap *mesh.Snapshot, a *Answer) string {
	svc := snap.Service(mesh.ServiceRef{Namespace: a.Destination.Namespace, Name: a.Destination.Service})
	return workloadID(snap, svc, backingWorkloads(snap, svc))
}
