package agent

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/genproto/googleapis/rpc/code"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/policy/extauthz"
)

const getOnly = "allow if input.attributes.request.http.method == \"GET\"\n"

// blockedSink takes no log line until released.
type blockedSink struct{ release chan struct{} }

func (s blockedSink) Write(p []byte) (int, error) { <-s.release; return len(p), nil }

// TestAuthzStatsCountDroppedDecisionLines: when the decision log's sink
// stops taking lines, Checks of two policies are still answered, and the
// lines past the log's buffer show in the stats as dropped.
func TestAuthzStatsCountDroppedDecisionLines(t *testing.T) {
	sink := blockedSink{release: make(chan struct{})}
	a := NewAuthz(hclog.New(&hclog.LoggerOptions{Output: sink, Level: hclog.Info}), nil, 1, testAuthzTimeout)
	defer a.Stop()
	defer close(sink.release)
	if err := a.Update([]PolicyUpdate{
		{Name: dataplane.AuthzExtensionPrefix + "shop/a", Bundle: compilePolicy(t, "shop/a", getOnly)},
		{Name: dataplane.AuthzExtensionPrefix + "shop/b", Bundle: compilePolicy(t, "shop/b", getOnly)},
	}); err != nil {
		t.Fatal(err)
	}
	const checks = extauthz.DecisionLogBuffer
	for i := range checks {
		resp, err := a.Check(context.Background(), checkRequest("GET", "/"))
		if err != nil || resp.GetStatus().GetCode() != int32(code.Code_OK) {
			t.Fatalf("Check %d: %v %v", i, resp, err)
		}
	}
	// Two lines per Check, one held by the blocked writer.
	if got, want := a.Stats().DecisionLogsDropped, uint64(2*checks-extauthz.DecisionLogBuffer-1); got != want {
		t.Fatalf("decisionLogsDropped %d, want %d", got, want)
	}
	if !strings.Contains(mustJSON(t, a.Stats()), `"decisionLogsDropped"`) {
		t.Fatal("authz-stats.json does not carry decisionLogsDropped")
	}
}
