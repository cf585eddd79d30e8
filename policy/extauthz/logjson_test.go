package extauthz

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"embassy.dev/embassy/policy/engine"
)

// jsonBoth writes e's line by hand and through hclog's JSON format, at
// the same instant.
func jsonBoth(t testing.TB, l *DecisionLog, e logEntry) (got, want string) {
	t.Helper()
	at := time.Date(2026, 12, 7, 19, 30, 0, 123456789, time.FixedZone("X", 5400))
	var g, w bytes.Buffer
	l.log = hclog.New(&hclog.LoggerOptions{Name: "embassy-agent", JSONFormat: true, Output: &w, Level: hclog.Info,
		TimeFn: func() time.Time { return at }}).Named("agent").Named("authz")
	l.json = nil
	l.line(e)
	l.json = &jsonLines{out: &g, module: l.log.Name(), now: func() time.Time { return at }}
	l.line(e)
	return g.String(), w.String()
}

// TestDecisionLineJSON: the hand-encoded JSON line is the line hclog
// writes, byte for byte, for every kind of decision (errors at warn) and
// hostile values, so a log pipeline reading the agent's JSON sees no
// change.
func TestDecisionLineJSON(t *testing.T) {
	l := newDecisionLog(nil, []string{"x-named", "x-request-id"}, 1)
	for _, e := range decisionEntries() {
		if got, want := jsonBoth(t, l, e); got != want {
			t.Fatalf("JSON line\n got %s\nwant %s", got, want)
		}
	}
}

// FuzzDecisionLineJSON: for any header, path, principal, reason and
// status, the hand-encoded JSON line is hclog's.
func FuzzDecisionLineJSON(f *testing.F) {
	for _, v := range hostileValues {
		f.Add("x-named", v, "/p/"+v, v, v, 403)
	}
	f.Add("X-Upper", "v", "//host/p?q#f", "p", "r", -1)
	l := newDecisionLog(nil, []string{"x-named"}, 1)
	f.Fuzz(func(t *testing.T, name, value, path, principal, reason string, status int) {
		d := engine.Decision{Policy: value, Revision: "r", Reason: reason, HTTPStatus: status}
		e := logEntry{d: d, id: value, principal: principal, method: value, path: path,
			latency: time.Duration(status) * time.Microsecond,
			headers: map[string]string{name: value, "x-named": value, "x-request-id": value}}
		if got, want := jsonBoth(t, l, e); got != want {
			t.Fatalf("JSON line\n got %s\nwant %s", got, want)
		}
	})
}

// TestDecisionLogJSONWithArgs: a logger with arguments of its own keeps
// writing through itself, so they are not lost.
func TestDecisionLogJSONWithArgs(t *testing.T) {
	logger := hclog.New(&hclog.LoggerOptions{JSONFormat: true, Output: io.Discard}).With("node", "n1")
	l := NewDecisionLogJSON(logger, io.Discard, nil, 1)
	defer l.Close()
	if l.json != nil {
		t.Fatal("a logger With arguments got hand-encoded lines, which would drop them")
	}
}
