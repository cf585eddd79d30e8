package agent

import (
	"bytes"
	"context"
	"encoding/json"
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
	a := NewAuthz(hclog.New(&hclog.LoggerOptions{Output: sink, Level: hclog.Info}), nil, nil, 1, testAuthzTimeout)
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

// TestAuthzDecisionLinesJSON: with the logger's JSON writer given, a
// denial's line is written to it by hand, as the logger would write it,
// and never through the logger itself.
func TestAuthzDecisionLinesJSON(t *testing.T) {
	var viaLogger, direct bytes.Buffer
	logger := hclog.New(&hclog.LoggerOptions{Name: "authz", JSONFormat: true, Output: &viaLogger, Level: hclog.Info})
	a := NewAuthz(logger, &direct, nil, 0, testAuthzTimeout)
	if err := a.Update([]PolicyUpdate{{Name: dataplane.AuthzExtensionPrefix + "shop/a", Bundle: compilePolicy(t, "shop/a", getOnly)}}); err != nil {
		t.Fatal(err)
	}
	resp, err := a.Check(context.Background(), checkRequest("POST", "/"))
	if err != nil || resp.GetStatus().GetCode() == int32(code.Code_OK) {
		t.Fatalf("Check: %v %v, want a denial", resp, err)
	}
	a.Stop() // writes the queued line
	var line map[string]any
	if err := json.Unmarshal(direct.Bytes(), &line); err != nil {
		t.Fatalf("the JSON writer got %q, want one decision line: %v", direct.String(), err)
	}
	if line["@module"] != "authz" || line["allowed"] != false || line["policy"] != "shop/a" {
		t.Errorf("line %s, want the refusal of shop/a from the authz logger", direct.String())
	}
	if viaLogger.Len() != 0 {
		t.Errorf("the logger wrote %q too", viaLogger.String())
	}
}
