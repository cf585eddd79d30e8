package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"embassy.dev/embassy/internal/grpctest"
	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/controlplane"
)

const methodsRego = `package envoy.authz

default allow := false

allow if input.attributes.request.http.method == "GET"
`

const methodsTestRego = `package envoy.authz_test

import data.envoy.authz

test_get_allowed if authz.allow with input as {"attributes": {"request": {"http": {"method": "GET"}}}}

test_post_denied if not authz.allow with input as {"attributes": {"request": {"http": {"method": "POST"}}}}
`

// bodyRego reads the body, which RBAC cannot see: it stays on ext_authz.
const bodyRego = `package envoy.authz

default allow := false

allow if {
	body := json.unmarshal(input.attributes.request.http.body)
	body.amount < 1000
}
`

const meshWeb = meshtest.ServiceWebShop + `---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: web-1, namespace: shop}
spec: {address: 127.0.0.1, services: [web], serviceAccount: web}
`

// writeDir writes files (name → content) into a new directory.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runOffline runs embassyctl with no server at all.
func runOffline(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"--server", "http://127.0.0.1:1"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestPolicyTestRunsRegoTestsOffline(t *testing.T) {
	dir := writeDir(t, map[string]string{"authz.rego": methodsRego, "authz_test.rego": methodsTestRego})
	code, out, errOut := runOffline("policy", "test", dir, "-v")
	if code != 0 {
		t.Fatalf("passing tests: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"test_get_allowed", "test_post_denied", "PASS", "PASS: 2/2"} {
		if !strings.Contains(out, want) {
			t.Errorf("-v output lacks %q:\n%s", want, out)
		}
	}

	failing := strings.Replace(methodsTestRego, `"POST"`, `"GET"`, 1)
	dir = writeDir(t, map[string]string{"authz.rego": methodsRego, "authz_test.rego": failing})
	code, out, _ = runOffline("policy", "test", dir)
	if code != 1 || !strings.Contains(out, "FAIL: 1/2") {
		t.Fatalf("a failing test: exit %d\n%s", code, out)
	}

	dir = writeDir(t, map[string]string{"authz.rego": "package envoy.authz\n\nallow if {\n    input.x == ==\n}\n"})
	code, _, errOut = runOffline("policy", "test", dir)
	if code != 1 || !strings.Contains(errOut, "rego_parse_error") {
		t.Fatalf("a module that does not parse: exit %d\n%s", code, errOut)
	}
}

// cpEnv is an in-process control plane with plaintext xDS.
type cpEnv struct {
	*env
	cp *controlplane.ControlPlane
}

func newCPEnv(t *testing.T) *cpEnv {
	t.Helper()
	cp, tokenFile := startControlPlane(t)
	e := &env{t: t, url: "http://" + cp.APIAddr(), tokenFile: tokenFile, dir: t.TempDir()}
	return &cpEnv{env: e, cp: cp}
}

func TestPolicyApplyEvalExplainAndList(t *testing.T) {
	e := newCPEnv(t)
	if code, out, errOut := e.run("apply", "-f", e.file("mesh.yaml", meshWeb)); code != 0 {
		t.Fatalf("apply mesh: %d\n%s%s", code, out, errOut)
	}

	// A policy whose Rego does not parse is refused with OPA's location.
	bad := writeDir(t, map[string]string{"authz.rego": "package envoy.authz\n\nallow if {\n    input.x == ==\n}\n"})
	code, _, errOut := e.run("policy", "apply", bad, "--name", "web-methods", "--target", "web", "-n", "shop")
	if code != 1 || !strings.Contains(errOut, "authz.rego:4:16: rego_parse_error: unexpected equal token") {
		t.Fatalf("bad Rego: exit %d\n%s", code, errOut)
	}

	dir := writeDir(t, map[string]string{"authz.rego": methodsRego, "authz_test.rego": methodsTestRego})
	code, out, errOut := e.run("policy", "apply", dir, "--name", "web-methods", "--target", "web", "-n", "shop")
	if code != 0 || out != "authorizationpolicy/shop/web-methods created\n" {
		t.Fatalf("policy apply: exit %d\n%s%s", code, out, errOut)
	}
	body := writeDir(t, map[string]string{"body.rego": bodyRego})
	if code, out, errOut := e.run("policy", "apply", body, "--name", "web-body", "--target", "web", "-n", "shop", "--mode", "dry-run"); code != 0 {
		t.Fatalf("policy apply dry-run: exit %d\n%s%s", code, out, errOut)
	}

	get := e.file("get.json", `{"attributes": {"request": {"http": {"method": "GET", "path": "/"}}}}`)
	post := e.file("post.json", `{"attributes": {"request": {"http": {"method": "POST", "path": "/"}}}}`)
	code, out, errOut = e.run("policy", "eval", "web-methods", "-n", "shop", "--input", get)
	if code != 0 || !strings.HasPrefix(out, "allow\npolicy:   shop/web-methods (revision ") {
		t.Fatalf("eval GET: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = e.run("policy", "eval", "web-methods", "-n", "shop", "--input", post)
	if code != 0 || !strings.HasPrefix(out, "deny\n") || !strings.Contains(out, "status:   403") {
		t.Fatalf("eval POST: exit %d\n%s", code, out)
	}
	code, out, _ = e.run("policy", "eval", "web-body", "-n", "shop", "--input", post)
	if code != 0 || !strings.HasPrefix(out, "would-deny\n") {
		t.Fatalf("eval of a dry-run policy: exit %d\n%s", code, out)
	}
	if code, _, errOut := e.run("policy", "eval", "nosuch", "-n", "shop", "--input", get); code != 1 || !strings.Contains(errOut, "does not exist") {
		t.Fatalf("eval of a missing policy: exit %d\n%s", code, errOut)
	}

	code, out, _ = e.run("policy", "explain", "web-methods", "-n", "shop")
	if code != 0 || !strings.Contains(out, "compiled to RBAC") || !strings.Contains(out, ":method") ||
		!strings.Contains(out, "decision cache: cacheable, keyed on input.attributes.request.http.method\n") {
		t.Fatalf("explain of an RBAC policy: exit %d\n%s", code, out)
	}
	code, out, _ = e.run("policy", "explain", "web-body", "-n", "shop")
	if code != 0 || !strings.Contains(out, "enforced by ext_authz") || !strings.Contains(out, "body.rego:") || !strings.Contains(out, "dry-run") ||
		!strings.Contains(out, "decision cache: cacheable, keyed on input.attributes.request.http.body\n") {
		t.Fatalf("explain of an ext_authz policy: exit %d\n%s", code, out)
	}

	// The workload's agent fetches and ACKs its bundles; list shows it.
	ackBundles(t, e.cp.XDSAddr(), "web-1.shop", 2)
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, out, errOut = e.run("policy", "list", "-n", "shop")
		if code != 0 {
			t.Fatalf("policy list: exit %d\n%s", code, errOut)
		}
		if strings.Contains(out, "web-methods") && strings.Count(out, "1/1") == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("policy list never showed both bundles ACKed:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "dry-run") || !strings.Contains(lines[1], "ext_authz") || !strings.Contains(lines[2], "enforce") || !strings.Contains(lines[2], "rbac") {
		t.Errorf("policy list:\n%s", out)
	}
	explainAgreesWithList(t, e, dir, body)
}

// explainAgreesWithList applies the methods policy in dry-run and the body
// policy enforced: explain, list and describe must name one path for each,
// ext_authz for a dry-run policy that compiles to RBAC, and say of the
// enforced body policy that proxyless servers it targets deny every call.
func explainAgreesWithList(t *testing.T, e *cpEnv, methods, body string) {
	t.Helper()
	for _, a := range [][]string{{methods, "web-methods-dry", "dry-run"}, {body, "web-body-enforced", "enforce"}} {
		if code, out, errOut := e.run("policy", "apply", a[0], "--name", a[1], "--target", "web", "-n", "shop", "--mode", a[2]); code != 0 {
			t.Fatalf("policy apply %s: exit %d\n%s%s", a[1], code, out, errOut)
		}
	}
	code, out, _ := e.run("policy", "explain", "web-methods-dry", "-n", "shop")
	if code != 0 || !strings.HasPrefix(strings.SplitN(out, "\n", 2)[1], "enforced by ext_authz (dry-run") || !strings.Contains(out, "compiled to RBAC") {
		t.Errorf("explain of a dry-run policy that compiles to RBAC: exit %d\n%s", code, out)
	}
	_, list, _ := e.run("policy", "list", "-n", "shop")
	for _, l := range strings.Split(list, "\n") {
		if strings.Contains(l, "web-methods-dry") && !strings.Contains(l, "ext_authz") {
			t.Errorf("policy list says otherwise: %s", l)
		}
	}
	const note = "proxyless gRPC servers it targets deny every call"
	if _, out, _ := e.run("policy", "explain", "web-body-enforced", "-n", "shop"); !strings.Contains(out, note) {
		t.Errorf("explain of an enforced policy RBAC cannot express lacks %q:\n%s", note, out)
	}
	if out := describeCompiled(t, e, "web-body-enforced"); !strings.Contains(out, "Proxyless:") || !strings.Contains(out, note) {
		t.Errorf("describe of an enforced policy RBAC cannot express lacks the proxyless note:\n%s", out)
	}
	if out := describeCompiled(t, e, "web-methods-dry"); strings.Contains(out, "Proxyless:") || !strings.Contains(out, "Enforcement:      ext_authz (dry-run") {
		t.Errorf("describe of a dry-run policy that compiles to RBAC:\n%s", out)
	}
}

// describeCompiled describes policy name of namespace shop once the
// control plane's mesh holds it compiled, which follows the apply by a
// push.
func describeCompiled(t *testing.T, e *cpEnv, name string) string {
	t.Helper()
	var out string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, out, _ = e.run("describe", "authz", name, "-n", "shop"); strings.Contains(out, "Compiled:         yes") {
			return out
		}
	}
	t.Fatalf("describe never showed %s compiled:\n%s", name, out)
	return ""
}

// ackBundles fetches the authorization bundles as node id over plaintext
// ADS until it gets want of them, ACKing every response.
func ackBundles(t *testing.T, addr, id string, want int) {
	t.Helper()
	cc := grpctest.Dial(t, addr)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &core.Node{Id: id, UserAgentName: "embassy-agent"}
	req := &discovery.DiscoveryRequest{TypeUrl: resourcev3.ExtensionConfigType, Node: node}
	for {
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		req = &discovery.DiscoveryRequest{TypeUrl: resp.GetTypeUrl(), Node: node, VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()}
		if len(resp.GetResources()) == want {
			if err := stream.Send(req); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
}
