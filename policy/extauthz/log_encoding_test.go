package extauthz

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"embassy.dev/embassy/policy/engine"
)

// hostileValues are header values and paths a caller controls.
var hostileValues = []string{
	"plain", `"quoted" \back\slash`, "two\nlines\r\n", "tab\tbell\a nul\x00 esc\x1b[31m",
	"<script>&amp;</script>", "bad utf8 \xff\xfe \xc3", "line sep \u2028 para \u2029", "émoji 🙂", "",
}

// decisionEntries are the lines to encode: allowed, denied, would-deny,
// failed (fail closed and failure mode allow) and errors, over redacted
// and named headers with hostile values.
func decisionEntries() []logEntry {
	base := engine.Decision{Policy: "books", Revision: "r7"}
	allowed, denied, dry, closed, open := base, base, base, base, base
	allowed.Allowed, allowed.Reason = true, "data.authz.allow is true"
	denied.Reason, denied.HTTPStatus = "data.authz.allow is false", 403
	dry.DryRun, dry.Reason, dry.HTTPStatus = true, "would deny", 403
	closed.Failed, closed.Reason = true, "evaluation failed (failure mode deny)"
	open.Failed, open.Allowed, open.Reason = true, true, "evaluation failed (failure mode allow)"
	var out []logEntry
	for i, d := range []engine.Decision{allowed, denied, dry, closed, open} {
		for j, v := range hostileValues {
			e := logEntry{
				d: d, id: "id-" + v, latency: time.Duration(i*1000+j) * time.Microsecond,
				principal: "spiffe://mesh/" + v, method: "GET", path: "/books/" + v + "?token=" + v,
				headers: map[string]string{"authorization": "Bearer " + v, "x-request-id": v, "x-named": v, v: "value"},
			}
			if d.Failed {
				e.err = errors.New("eval: " + v)
			}
			out = append(out, e)
		}
	}
	return out
}

// referenceHeaders is the redacted header map the decision line carried
// before it was encoded by hand.
func referenceHeaders(l *DecisionLog, hs map[string]string) map[string]string {
	out := make(map[string]string, len(hs))
	for k, v := range hs {
		out[k] = Redacted
		if l.logHeaders[k] {
			out[k] = v
		}
	}
	return out
}

// referencePath is the path the line carried before plain paths skipped
// url.Parse.
func referencePath(p string) string {
	if u, err := url.Parse(p); err == nil {
		return u.Path
	}
	return p
}

// encodeBoth writes e's line as the DecisionLog does and as the reference
// (a header map, every path through url.Parse) did, in one format.
func encodeBoth(t testing.TB, l *DecisionLog, e logEntry, jsonFormat bool) (got, want string) {
	t.Helper()
	var g, w bytes.Buffer
	opts := func(b *bytes.Buffer) *hclog.LoggerOptions {
		return &hclog.LoggerOptions{Name: "authz", JSONFormat: jsonFormat, Output: b, Level: hclog.Info,
			TimeFn: func() time.Time { return time.Unix(0, 0).UTC() }}
	}
	l.log = hclog.New(opts(&g))
	l.line(e)
	fields := l.fields(e)
	for i := 0; i < len(fields); i += 2 {
		switch fields[i] {
		case "headers":
			fields[i+1] = referenceHeaders(l, e.headers)
		case "path":
			fields[i+1] = referencePath(e.path)
		}
	}
	ref := hclog.New(opts(&w))
	if e.err != nil {
		ref.Warn("decision", fields...)
	} else {
		ref.Info("decision", fields...)
	}
	return g.String(), w.String()
}

// checkSameLine fails unless the hand-encoded line is one valid JSON
// object (and one text line) saying exactly what the reference says.
func checkSameLine(t testing.TB, l *DecisionLog, e logEntry) {
	t.Helper()
	got, want := encodeBoth(t, l, e, true)
	if !json.Valid([]byte(got)) || strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") {
		t.Fatalf("line is not one JSON object: %q", got)
	}
	var g, w map[string]any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("JSON line\n got %s\nwant %s", got, want)
	}
	if got, want := encodeBoth(t, l, e, false); got != want {
		t.Fatalf("text line\n got %q\nwant %q", got, want)
	}
}

// TestDecisionLineEncoding: the hand-encoded line is valid JSON with the
// same fields and values as the map the logger encoded before, and the
// same text line, for every kind of decision and hostile values; named
// headers show their values, the rest are redacted.
func TestDecisionLineEncoding(t *testing.T) {
	l := NewDecisionLog(nil, []string{"x-named", "x-request-id"}, 1)
	defer l.Close()
	for _, e := range decisionEntries() {
		checkSameLine(t, l, e)
	}
	got, _ := encodeBoth(t, l, decisionEntries()[1], true)
	var m struct {
		Headers map[string]string `json:"headers"`
		Path    string            `json:"path"`
		Status  int               `json:"status"`
	}
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatal(err)
	}
	if m.Headers["authorization"] != Redacted || m.Headers["x-named"] != `"quoted" \back\slash` || m.Path != `/books/"quoted" \back\slash` || m.Status != 0 {
		t.Errorf("line %s: want the authorization value redacted, x-named shown and the query dropped", got)
	}
}

// FuzzDecisionLine: for any header name, value, path, principal and
// reason, the hand-encoded line says what the reference said, and a path
// taken as plain is the path url.Parse gives.
func FuzzDecisionLine(f *testing.F) {
	for _, v := range hostileValues {
		f.Add("x-named", v, "/p/"+v, v, v)
	}
	f.Add("X-Upper", "v", "//host/p?q#f", "p", "r")
	f.Add("", "", "a%2Fb:c", "", "")
	l := NewDecisionLog(nil, []string{"x-named"}, 1)
	defer l.Close()
	f.Fuzz(func(t *testing.T, name, value, path, principal, reason string) {
		if plainPath(path) && referencePath(path) != path {
			t.Fatalf("path %q taken as plain, url.Parse gives %q", path, referencePath(path))
		}
		d := engine.Decision{Policy: "p", Revision: "r", Reason: reason, HTTPStatus: 403}
		e := logEntry{d: d, id: value, principal: principal, method: value, path: path,
			headers: map[string]string{name: value, "x-named": value, "x-request-id": value}}
		checkSameLine(t, l, e)
	})
}

// BenchmarkDecisionLogLine is the writer goroutine's cost of one denied
// line with the usual headers, in JSON, through hclog and encoded by hand
// (NewDecisionLogJSON, the agent's with --log-json).
func BenchmarkDecisionLogLine(b *testing.B) {
	e := logEntry{
		d:  engine.Decision{Policy: "books", Revision: "r7", Reason: "data.authz.allow is false", HTTPStatus: 403},
		id: "0f3c", principal: "spiffe://mesh/ns/default/sa/web", method: "GET", path: "/books/42",
		headers: map[string]string{
			":authority": "books", ":method": "GET", ":path": "/books/42", ":scheme": "http",
			"authorization": "Bearer x", "user-agent": "grpc-go", "x-request-id": "0f3c", "accept": "*/*",
		},
	}
	for _, byHand := range []bool{false, true} {
		b.Run(fmt.Sprintf("by-hand=%t", byHand), func(b *testing.B) {
			logger := hclog.New(&hclog.LoggerOptions{Name: "authz", JSONFormat: true, Output: io.Discard, Level: hclog.Info})
			var out io.Writer
			if byHand {
				out = io.Discard
			}
			l := NewDecisionLogJSON(logger, out, nil, 1)
			defer l.Close()
			b.ReportAllocs()
			for b.Loop() {
				l.line(e)
			}
		})
	}
}
