package extauthz

import (
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/code"
)

// publicOnly allows what starts with /public: a raw /public/../admin
// would pass it.
const publicOnly = `package envoy.authz

default allow := false

allow if startswith(input.attributes.request.http.path, "/public")
`

// TestUnnormalizedPathsAreDenied drives the Check server over gRPC with
// paths an Embassy-configured sidecar never sends: each is denied with
// 400 and a reason naming the settings, before the policy (which would
// allow most of them as written) decides; normalized paths are answered
// by the policy as before.
func TestUnnormalizedPathsAreDenied(t *testing.T) {
	var logs syncBuffer
	client, srv := serve(t, load(t, compileRego(t, publicOnly)), Options{DecisionLog: logs.decisionLog(t)})

	for _, c := range []struct{ path, says string }{
		{"/public/../admin", `"/public/../admin" would be "/admin"`},
		{"/a/../admin", `"/a/../admin" would be "/admin"`},
		{"//admin", `"//admin" would be "/admin"`},
		{"/public//admin", `would be "/public/admin"`},
		{"/public/./x", `would be "/public/x"`},
		{"/public/%2e%2e/admin", `would be "/admin"`},
		{"/public/.%2E/admin?x=1", `"/public/.%2E/admin" would be "/admin"`},
		{`/public\..\admin`, `would be "/admin"`},
		{"/public/..;x/admin", `would be "/admin"`},
		{"/public%2F..%2Fadmin", `Envoy refuses "/public%2F..%2Fadmin"`},
		{"/a/%2Fadmin", `Envoy refuses "/a/%2Fadmin"`},
		{"/a/%2fadmin", `Envoy refuses`},
		{"/public/%5C../admin", `Envoy refuses`},
		{"/public/%5c../admin", `Envoy refuses`},
		{"/public#x", `Envoy refuses`},
		{"/public/%61dmin", `would be "/public/admin"`},
	} {
		resp := check(t, client, httpRequest("GET", c.path, nil, ""))
		body := resp.GetDeniedResponse().GetBody()
		if resp.GetStatus().GetCode() != int32(code.Code_PERMISSION_DENIED) || resp.GetDeniedResponse().GetStatus().GetCode() != 400 {
			t.Errorf("%s: not denied with 400: %v", c.path, resp)
			continue
		}
		for _, want := range []string{c.says, "not configured as Embassy generates it", pathSettings} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: body %q does not say %q", c.path, body, want)
			}
		}
	}
	// The :path header is what a policy may read too.
	req := httpRequest("GET", "/public", map[string]string{":path": "/public/../admin"}, "")
	if resp := check(t, client, req); resp.GetStatus().GetCode() != int32(code.Code_PERMISSION_DENIED) {
		t.Errorf(":path /public/../admin allowed: %v", resp)
	}

	for _, p := range []string{"/public", "/public/x", "/public?next=/../admin&to=%2Fadmin", "/public/a%20b", "/public/%7Bx%7D"} {
		if resp := check(t, client, httpRequest("GET", p, map[string]string{":path": p}, "")); resp.GetStatus().GetCode() != int32(code.Code_OK) {
			t.Errorf("%s denied: %v", p, resp)
		}
	}
	if resp := check(t, client, httpRequest("GET", "/admin", nil, "")); EnvoyStatus(resp) != 403 {
		t.Errorf("/admin: %v", resp)
	}

	lines := logs.lines(t)
	l := lines[0]
	if l["@level"] != "warn" || l["decision"] != "deny" || l["status"] != float64(400) ||
		!strings.Contains(l["reason"].(string), `"/public/../admin" would be "/admin"`) || l["path"] != "/public/../admin" {
		t.Errorf("log %v", l)
	}
	if got := srv.Counts()["default/test"]; got.Deny != 18 || got.Allow != 5 {
		t.Errorf("counts %+v", got)
	}
}

// TestUnnormalizedPathInDryRunOnlyLogs: a dry-run policy denies nothing,
// this included, but logs it as would-deny with the reason.
func TestUnnormalizedPathInDryRunOnlyLogs(t *testing.T) {
	var logs syncBuffer
	client, _ := serve(t, load(t, compileRego(t, publicOnly, dryRun)), Options{DecisionLog: logs.decisionLog(t)})
	if resp := check(t, client, httpRequest("GET", "/public/../admin", nil, "")); resp.GetStatus().GetCode() != int32(code.Code_OK) {
		t.Fatalf("dry-run denied: %v", resp)
	}
	if l := logs.lines(t)[0]; l["decision"] != "would-deny" || !strings.Contains(l["reason"].(string), "not configured as Embassy generates it") {
		t.Errorf("log %v", l)
	}
}

// TestCheckWithoutPathIsUnchanged: a TCP check has no HTTP path, and is
// decided by the policy.
func TestCheckWithoutPathIsUnchanged(t *testing.T) {
	client, _ := serve(t, load(t, compileRego(t, "package envoy.authz\n\nallow := true\n")), Options{})
	if resp := check(t, client, httpRequest("", "", nil, "")); resp.GetStatus().GetCode() != int32(code.Code_OK) {
		t.Errorf("check without a path denied: %v", resp)
	}
}
