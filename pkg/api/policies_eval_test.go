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

// policyEchoSpinsOnHeader loops n² times for a header x-n: n, which
// partial evaluation at apply cannot see, so only a deadline on the
// evaluation stops a caller who sends a large n.
const policyEchoSpinsOnHeader = `apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata:
  name: spins
spec:
  targets:
    services: [echo]
  modules:
  - name: spins.rego
    rego: |
      package envoy.authz
      allow if {
        n := to_number(input.attributes.request.http.headers["x-n"])
        count([1 | some i in numbers.range(1, n); some j in numbers.range(1, n); i == j + n]) == 0
      }
`

func TestEvalDecidesInTheSandbox(t *testing.T) {
	h := newRegoHarness(t, sandbox.Limits{Timeout: 20 * time.Second})
	if code, body := h.do(http.MethodPost, "/v1/apply", testToken, apiwire.ApplyRequest{Files: []apiwire.File{{Name: "p.yaml", Content: policyEchoGetOnly}}}); code != http.StatusOK {
		t.Fatalf("apply: %d %s", code, body)
	}
	for method, want := range map[string]string{"GET": "allow", "POST": "deny"} {
		input := json.RawMessage(`{"attributes": {"request": {"http": {"method": "` + method + `"}}}}`)
		code, body := h.do(http.MethodPost, "/v1/policies/default/get-only/eval", testToken, apiwire.EvalRequest{Input: input})
		var res apiwire.EvalResponse
		if code != http.StatusOK || json.Unmarshal(body, &res) != nil || res.Outcome != want {
			t.Errorf("%s: %d %s, want %s", method, code, body, want)
		}
	}
}

// TestCheckIsBoundedByTheDeadline: a read-token caller choosing an input
// that makes a policy spin gets a closed failure naming the deadline, not
// an unbounded evaluation.
func TestCheckIsBoundedByTheDeadline(t *testing.T) {
	h := newRegoHarness(t, sandbox.Limits{Timeout: time.Second})
	mesh := meshtest.ServiceEcho + "---\n" + meshtest.RouteEcho + "---\n" + meshtest.WorkloadEcho + "---\n" + policyEchoSpinsOnHeader
	if code, body := h.do(http.MethodPost, "/v1/apply", testToken, apiwire.ApplyRequest{Files: []apiwire.File{{Name: "m.yaml", Content: mesh}}}); code != http.StatusOK {
		t.Fatalf("apply: %d %s", code, body)
	}
	ask := func(n string) whatif.Answer {
		t.Helper()
		code, body := h.do(http.MethodPost, "/v1/check", testToken, whatif.Query{From: "spiffe://embassy.local/ns/default/sa/x", To: "echo", Headers: map[string]string{"x-n": n}})
		var a whatif.Answer
		if code != http.StatusOK || json.Unmarshal(body, &a) != nil || len(a.Authorization) != 1 {
			t.Fatalf("check x-n=%s: %d %s", n, code, body)
		}
		return a
	}
	if a := ask("10"); !a.Allowed {
		t.Fatalf("a small n is allowed by the policy: %+v", a)
	}
	a := ask("100000")
	if a.Allowed || a.Authorization[0].Outcome != "error" || !strings.Contains(a.Authorization[0].Reason, "deadline of 1s") {
		t.Errorf("a spinning evaluation: %+v, want a closed failure naming the deadline", a.Authorization[0])
	}
}
