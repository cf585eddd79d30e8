package whatif

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/code"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/sandbox"
)

// TestAllowNetworkReachesTheAgentOnly: a policy opted in to http.send is
// evaluated, network call included, by the agent's ext_authz server, and
// never by a what-if answer (embassyctl check --offline, /v1/check).
func TestAllowNetworkReachesTheAgentOnly(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer srv.Close()
	rs, err := resource.Decode("net.yaml", []byte(meshtest.ServiceEcho+"---\n"+meshtest.RouteEcho+`---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: echo-1}
spec: {address: 127.0.0.1, services: [echo], serviceAccount: echo}
---
apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: remote}
spec:
  targets: {services: [echo]}
  allowNetwork: true
  modules:
  - name: remote.rego
    rego: |
      package envoy.authz
      allow if http.send({"method": "GET", "url": "`+srv.URL+`/decide"}).status_code == 200
`))
	if err != nil {
		t.Fatal(err)
	}
	snap := mesh.New(1, rs)
	a, err := Check(context.Background(), snap, Query{From: "spiffe://embassy.local/ns/default/sa/x", To: "echo"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Allowed || len(a.Authorization) != 1 || a.Authorization[0].Reason != sandbox.NotEvaluatedNetwork {
		t.Fatalf("what-if answer %+v: want a closed failure saying only the agent evaluates it", a.Authorization)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the what-if answer sent %d requests", n)
	}

	client := agentAuthz(t, snap.AuthorizationPolicies[0])
	resp, err := client.Check(context.Background(), CheckRequest(Query{From: "spiffe://embassy.local/ns/default/sa/x", Method: "GET", Path: "/"}, a.Destination, "spiffe://embassy.local/ns/default/sa/echo"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetStatus().GetCode() != int32(code.Code_OK) || hits.Load() != 1 {
		t.Errorf("agent: status %v after %d requests, want OK after one", resp.GetStatus(), hits.Load())
	}
}
