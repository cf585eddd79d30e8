package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/whatif"
	"embassy.dev/embassy/policy/sandbox"
)

const policyEchoGetOnly = `apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata:
  name: get-only
spec:
  targets:
    services: [echo]
  modules:
  - name: p.rego
    rego: |
      package envoy.authz
      default allow := false
      allow if input.attributes.request.http.method == "GET"
`

// newRegoHarness is newHarness with the Rego sandbox that embassy-cp
// gives the API, for the routes that evaluate policies.
func newRegoHarness(t *testing.T, l sandbox.Limits) *harness {
	t.Helper()
	rego, err := sandbox.New(l, sandbox.ReadWorkers)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, Options{Rego: rego})
}

func TestCheckAnswersOverTheStoredMesh(t *testing.T) {
	h := newRegoHarness(t, sandbox.Limits{Timeout: 20 * time.Second})
	code, body := h.do(http.MethodPost, "/v1/apply", testToken, apiwire.ApplyRequest{Files: []apiwire.File{{Name: "m.yaml", Content: meshtest.ServiceEcho + "---\n" + meshtest.RouteEcho + "---\n" + meshtest.WorkloadEcho + "---\n" + policyEchoGetOnly}}})
	if code != http.StatusOK {
		t.Fatalf("apply: %d %s", code, body)
	}
	for _, c := range []struct {
		method  string
		allowed bool
	}{{"GET", true}, {"POST", false}} {
		code, body = h.do(http.MethodPost, "/v1/check", testToken, whatif.Query{From: "spiffe://embassy.local/ns/default/sa/x", To: "echo", Method: c.method, Path: "/x"})
		if code != http.StatusOK {
			t.Fatalf("check: %d %s", code, body)
		}
		var a whatif.Answer
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatal(err)
		}
		if a.Allowed != c.allowed || len(a.Authorization) != 1 || a.Authorization[0].Policy != "default/get-only" || a.Authorization[0].Revision == "" {
			t.Fatalf("%s: answer %s", c.method, body)
		}
		if a.Route == nil || a.Route.Name != "default/echo/0" || a.Route.Backends[0].Cluster != "outbound|8080||echo.default" {
			t.Fatalf("%s: route %s", c.method, body)
		}
	}
	code, body = h.do(http.MethodPost, "/v1/check", testToken, whatif.Query{To: "nope"})
	if code != http.StatusBadRequest || !strings.Contains(string(body), "nope.default does not exist") {
		t.Fatalf("unknown service: %d %s", code, body)
	}
	if code, _ = h.do(http.MethodPost, "/v1/check", "", whatif.Query{To: "echo"}); code != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", code)
	}
}
