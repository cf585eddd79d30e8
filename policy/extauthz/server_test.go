package extauthz

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"
)

const getOnly = `package envoy.authz

default allow := false

allow if input.attributes.request.http.method == "GET"
`

const conflicting = `package envoy.authz

allow := true if input.attributes.request.http.method
allow := false if input.attributes.request.http.path
`

func dryRun(s *resource.AuthorizationPolicySpec)       { s.Mode = compile.ModeDryRun }
func failureAllow(s *resource.AuthorizationPolicySpec) { s.FailureMode = compile.FailureAllow }

func TestDryRunPassesAndLogsWouldDeny(t *testing.T) {
	var logs syncBuffer
	b := compileRego(t, getOnly, dryRun)
	client, srv := serve(t, load(t, b), Options{DecisionLog: logs.decisionLog(t, "x-trace")})

	resp := check(t, client, httpRequest("DELETE", "/books/1?token=secret-in-query", map[string]string{
		"authorization": "Bearer secret-token",
		"cookie":        "session=secret-cookie",
		"x-trace":       "trace-7",
		"x-request-id":  "req-42",
	}, "spiffe://bookstore.example/ns/web/sa/frontend"))
	if resp.GetStatus().GetCode() != int32(code.Code_OK) || resp.GetOkResponse() == nil {
		t.Fatalf("dry-run denied: %v", resp)
	}

	lines := logs.lines(t)
	if len(lines) != 1 {
		t.Fatalf("%d log lines", len(lines))
	}
	l := lines[0]
	want := map[string]any{
		"@message":   "decision",
		"@level":     "info",
		"@module":    "authz",
		"policy":     "default/test",
		"revision":   b.Revision(),
		"decision":   "would-deny",
		"allowed":    true,
		"dry_run":    true,
		"reason":     "data.envoy.authz.allow is false",
		"request_id": "req-42",
		"principal":  "spiffe://bookstore.example/ns/web/sa/frontend",
		"method":     "DELETE",
		"path":       "/books/1",
		"status":     float64(403),
	}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("log %s = %v, want %v", k, l[k], v)
		}
	}
	if lat, _ := l["latency"].(string); lat == "" {
		t.Errorf("no latency in %v", l)
	}
	if id, _ := l["decision_id"].(string); id == "" || id != resp.GetDynamicMetadata().AsMap()["decision_id"] {
		t.Errorf("decision_id %v does not match the response's", l["decision_id"])
	}
	headers, _ := l["headers"].(map[string]any)
	if headers["authorization"] != Redacted || headers["cookie"] != Redacted || headers["x-request-id"] != Redacted {
		t.Errorf("header values not redacted: %v", headers)
	}
	if headers["x-trace"] != "trace-7" {
		t.Errorf("configured header not logged: %v", headers)
	}
	for _, secret := range []string{"secret-token", "secret-cookie", "secret-in-query"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log contains %q: %s", secret, logs.String())
		}
	}

	check(t, client, httpRequest("GET", "/books/1", nil, ""))
	if got := srv.Counts()["default/test"]; got != (Counts{Allow: 1, WouldDeny: 1}) {
		t.Errorf("counts %+v", got)
	}
}

func TestEnforceDenies(t *testing.T) {
	var logs syncBuffer
	client, srv := serve(t, load(t, compileRego(t, getOnly)), Options{DecisionLog: logs.decisionLog(t)})
	resp := check(t, client, httpRequest("POST", "/books", nil, ""))
	if resp.GetStatus().GetCode() != int32(code.Code_PERMISSION_DENIED) || EnvoyStatus(resp) != 403 {
		t.Fatalf("not denied: %v", resp)
	}
	if l := logs.lines(t)[0]; l["decision"] != "deny" || l["allowed"] != false {
		t.Errorf("log %v", l)
	}
	if got := srv.Counts()["default/test"]; got != (Counts{Deny: 1}) {
		t.Errorf("counts %+v", got)
	}
}

func TestEvaluationErrorFailsClosed(t *testing.T) {
	var logs syncBuffer
	client, srv := serve(t, load(t, compileRego(t, conflicting)), Options{DecisionLog: logs.decisionLog(t)})
	resp := check(t, client, httpRequest("GET", "/", nil, ""))
	if resp.GetStatus().GetCode() != int32(code.Code_PERMISSION_DENIED) || EnvoyStatus(resp) != 403 {
		t.Fatalf("evaluation error not denied: %v", resp)
	}
	l := logs.lines(t)[0]
	if l["@level"] != "warn" || l["decision"] != "error" || l["allowed"] != false ||
		!strings.Contains(l["error"].(string), "authz.rego:4: eval_conflict_error") {
		t.Errorf("log %v", l)
	}
	if got := srv.Counts()["default/test"]; got != (Counts{Error: 1}) {
		t.Errorf("counts %+v", got)
	}
}

func TestEvaluationErrorWithFailureModeAllow(t *testing.T) {
	var logs syncBuffer
	client, _ := serve(t, load(t, compileRego(t, conflicting, failureAllow)), Options{DecisionLog: logs.decisionLog(t)})
	resp := check(t, client, httpRequest("GET", "/", nil, ""))
	if resp.GetStatus().GetCode() != int32(code.Code_OK) {
		t.Fatalf("failure mode allow denied: %v", resp)
	}
	l := logs.lines(t)[0]
	if l["decision"] != "error" || l["allowed"] != true || !strings.HasSuffix(l["reason"].(string), "(failure mode allow)") {
		t.Errorf("log %v", l)
	}
}

func TestUnparsableRequestIs400(t *testing.T) {
	req := httpRequest("POST", "/orders", map[string]string{"content-type": "application/json"}, "")
	req.Attributes.Request.Http.Body = `{"quantity": `

	var logs syncBuffer
	client, _ := serve(t, load(t, compileRego(t, "package envoy.authz\n\nallow := true\n")), Options{DecisionLog: logs.decisionLog(t)})
	resp := check(t, client, req)
	if resp.GetStatus().GetCode() != int32(code.Code_PERMISSION_DENIED) || resp.GetDeniedResponse().GetStatus().GetCode() != 400 ||
		!strings.HasPrefix(resp.GetDeniedResponse().GetBody(), "bad request: body: ") {
		t.Fatalf("not a 400: %v", resp)
	}
	if l := logs.lines(t)[0]; l["decision"] != "deny" || l["status"] != float64(400) {
		t.Errorf("log %v", l)
	}

	// A dry-run policy denies nothing, not even what it cannot read.
	client, _ = serve(t, load(t, compileRego(t, "package envoy.authz\n\nallow := true\n", dryRun)), Options{})
	if resp := check(t, client, req); resp.GetStatus().GetCode() != int32(code.Code_OK) {
		t.Fatalf("dry-run denied a bad request: %v", resp)
	}
}

func TestNoPolicyDenies(t *testing.T) {
	client, srv := serve(t, engine.New(), Options{})
	resp := check(t, client, httpRequest("GET", "/", nil, ""))
	if resp.GetStatus().GetCode() != int32(code.Code_PERMISSION_DENIED) {
		t.Fatalf("allowed without a policy: %v", resp)
	}
	if got := srv.Counts()[""]; got != (Counts{Error: 1}) {
		t.Errorf("counts %+v", srv.Counts())
	}
}

func TestServeLoopbackAndUnix(t *testing.T) {
	srv := New(load(t, compileRego(t, getOnly)), Options{})
	tcp, err := ListenLoopback(0)
	if err != nil {
		t.Fatal(err)
	}
	if ip := tcp.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		t.Fatalf("listening on %v", ip)
	}
	dir, err := os.MkdirTemp("", "authz")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// A socket left by an earlier run is replaced.
	stale, err := ListenUnix(dir)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	unix, err := ListenUnix(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, dataplane.AuthzSocket))
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode %v, %v", fi.Mode(), err)
	}

	done := make(chan error, 2)
	go func() { done <- srv.Serve(tcp) }()
	go func() { done <- srv.Serve(unix) }()
	for _, target := range []string{tcp.Addr().String(), "unix://" + filepath.Join(dir, dataplane.AuthzSocket)} {
		conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := authv3.NewAuthorizationClient(conn).Check(context.Background(), httpRequest("GET", "/", nil, ""))
		conn.Close()
		if err != nil || resp.GetStatus().GetCode() != int32(code.Code_OK) {
			t.Errorf("%s: %v %v", target, resp, err)
		}
	}
	srv.Stop()
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
}

func TestListenUnixRefusesOtherFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, dataplane.AuthzSocket), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ListenUnix(dir); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("got %v", err)
	}
}

func TestBuildInput(t *testing.T) {
	req := httpRequest("GET", "/api/books/7?tag=go&tag=rego&q=a%20b", map[string]string{"x-request-id": "r1"},
		"spiffe://bookstore.example/ns/web/sa/frontend")
	in, err := BuildInput(req)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := jsonString(in)
	for _, want := range []string{
		`"parsed_path":["api","books","7"]`,
		`"parsed_query":{"q":["a b"],"tag":["go","rego"]}`,
		`"parsed_body":null`,
		`"truncated_body":false`,
		`"version":{"encoding":"protojson","ext_authz":"v3"}`,
		`"source":{"principal":"spiffe://bookstore.example/ns/web/sa/frontend"}`,
		`"headers":{"x-request-id":"r1"}`,
	} {
		if !strings.Contains(v, want) {
			t.Errorf("input lacks %s:\n%s", want, v)
		}
	}

	req.Attributes.Request.Http.Path = "/%zz"
	if _, err := BuildInput(req); !errors.Is(err, ErrBadRequest) {
		t.Errorf("bad path: %v", err)
	}
}
