package extauthz

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/resource"
)

// runawayRego would iterate 10^10 times: hours of work, in small steps
// OPA can stop between, and with no memory to speak of.
const runawayRego = `package envoy.authz
default allow := false
allow if {
	some i in numbers.range(1, 100000)
	some j in numbers.range(1, 100000)
	i * j == -1
}
`

const testTimeout = 100 * time.Millisecond

// concurrentChecks sends n Checks at once, without a client deadline,
// and returns the answers; a Check still unanswered after 30s fails the
// test (a liveness bound, far above the deadline).
func concurrentChecks(t *testing.T, c authv3.AuthorizationClient, n int) ([]*authv3.CheckResponse, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := make([]*authv3.CheckResponse, n)
	errs := make([]error, n)
	var slowest time.Duration
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			start := time.Now()
			out[i], errs[i] = c.Check(ctx, httpRequest("GET", "/", nil, "spiffe://example.org/ns/default/sa/web"))
			mu.Lock()
			slowest = max(slowest, time.Since(start))
			mu.Unlock()
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Check %d: %v (a runaway evaluation was not stopped)", i, err)
		}
	}
	return out, slowest
}

// TestRunawayPolicyIsCutShort: a policy that would evaluate for hours is
// stopped at the deadline: 32 concurrent Checks are all denied with a
// reason naming the deadline, even with failure mode allow, each decision
// is logged, and the server's goroutines go back to what they were, so
// nothing keeps evaluating. A dry-run policy lets the request through and
// logs would-deny.
func TestRunawayPolicyIsCutShort(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(*resource.AuthorizationPolicySpec)
		code    code.Code
		outcome string
	}{
		{"enforce", func(*resource.AuthorizationPolicySpec) {}, code.Code_PERMISSION_DENIED, "deny"},
		{"failure mode allow", failureAllow, code.Code_PERMISSION_DENIED, "deny"},
		{"dry-run", dryRun, code.Code_OK, "would-deny"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &syncBuffer{}
			c, _ := serve(t, load(t, compileRego(t, runawayRego, tc.edit)), Options{DecisionLog: logs.decisionLog(t), Timeout: testTimeout})
			concurrentChecks(t, c, 1) // connects and starts the server's workers
			baseline := runtime.NumGoroutine()

			const n = 32
			answers, slowest := concurrentChecks(t, c, n)
			t.Logf("%d concurrent Checks of a runaway policy under a %s deadline: slowest answered in %s", n, testTimeout, slowest)
			for i, r := range answers {
				if got := code.Code(r.GetStatus().GetCode()); got != tc.code {
					t.Fatalf("Check %d: %v, want %v", i, r.GetStatus(), tc.code)
				}
				if tc.code != code.Code_OK && !strings.Contains(r.GetDeniedResponse().GetBody(), "deadline") {
					t.Fatalf("Check %d: body %q does not name the deadline", i, r.GetDeniedResponse().GetBody())
				}
			}
			decisions := 0
			for _, l := range logs.lines(t) {
				if l["@message"] != "decision" {
					continue
				}
				decisions++
				if l["decision"] != tc.outcome || !strings.Contains(l["reason"].(string), "exceeded its 100ms deadline") {
					t.Fatalf("decision log %v, want %s with the deadline as reason", l, tc.outcome)
				}
			}
			if decisions != n+1 {
				t.Fatalf("%d decisions logged, want %d", decisions, n+1)
			}

			// Evaluations that were not stopped would hold their
			// goroutines for hours; every one must be gone within 10s.
			poll.UntilGoroutines(t, baseline, "evaluations left running")
		})
	}
}

// TestDeadlineSparesQuickPolicies: the deadline changes nothing for a
// policy that decides in time.
func TestDeadlineSparesQuickPolicies(t *testing.T) {
	c, _ := serve(t, load(t, compileRego(t, `package envoy.authz
default allow := false
allow if input.attributes.request.http.method == "GET"
`)), Options{Timeout: testTimeout})
	if r := check(t, c, httpRequest("GET", "/", nil, "")); r.GetStatus().GetCode() != int32(code.Code_OK) {
		t.Fatalf("GET: %v, want OK", r.GetStatus())
	}
	if r := check(t, c, httpRequest("POST", "/", nil, "")); r.GetStatus().GetCode() != int32(code.Code_PERMISSION_DENIED) || strings.Contains(r.GetDeniedResponse().GetBody(), "deadline") {
		t.Fatalf("POST: %v %q, want the policy's own deny", r.GetStatus(), r.GetDeniedResponse().GetBody())
	}
}
