package agent

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/hashicorp/go-hclog"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/internal/syncbuf"
	"embassy.dev/embassy/pkg/dataplane"
)

// runaway would iterate 10^10 times, in steps OPA can stop between.
const runaway = `default allow := false
allow if {
	some i in numbers.range(1, 100000)
	some j in numbers.range(1, 100000)
	i * j == -1
}
`

// TestAgentCheckDeadline: with two runaway policies, every one of 16
// concurrent Checks is denied under the agent's configured deadline,
// both policies log the deadline as their reason, and the evaluations
// stop: the goroutine count goes back to where it was.
func TestAgentCheckDeadline(t *testing.T) {
	logs := &syncbuf.Buffer{}
	a := NewAuthz(hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Info}), nil, nil, 1, 50*time.Millisecond)
	if err := a.Update([]PolicyUpdate{
		{Name: dataplane.AuthzExtensionPrefix + "shop/a", Bundle: compilePolicy(t, "shop/a", runaway)},
		{Name: dataplane.AuthzExtensionPrefix + "shop/b", Bundle: compilePolicy(t, "shop/b", runaway)},
	}); err != nil {
		t.Fatal(err)
	}
	baseline := runtime.NumGoroutine()
	// A liveness bound only, far above the deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 16
	resps := make([]*authv3.CheckResponse, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var err error
			if resps[i], err = a.Check(ctx, checkRequest("GET", "/")); err != nil {
				t.Errorf("Check %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("the Checks outlived the 30s liveness bound: evaluations were not stopped")
	}
	for i, r := range resps {
		if r.GetStatus().GetCode() != codeDenied || !strings.Contains(r.GetDeniedResponse().GetBody(), "exceeded its 50ms deadline") {
			t.Fatalf("Check %d: %v %q, want a deny naming the 50ms deadline", i, r.GetStatus(), r.GetDeniedResponse().GetBody())
		}
	}
	a.decisions.Flush()
	for _, p := range []string{"policy=shop/a", "policy=shop/b"} {
		if got := strings.Count(logs.String(), p); got != n {
			t.Errorf("%d decisions of %s logged, want %d", got, p, n)
		}
	}
	poll.UntilGoroutines(t, baseline, "evaluations left running")
}
