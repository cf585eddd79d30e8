package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/internal/nettest"
)

// scopingMesh is authzMesh with configScoping (the first %s), a service
// other, and a Workload for client-a, so the control plane knows its
// identity and egress list (the second %s: spec.egress, or "").
var scopingMesh = strictMesh + "  configScoping: %s\n" + strings.TrimPrefix(authzMesh, strictMesh) + `---
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: other, namespace: default}
spec:
  ports: [{name: grpc, port: 50051, protocol: grpc}]
  endpoints: [{address: 127.0.0.1, port: 9}]
---
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: caller, namespace: default}
spec:
  ports: [{name: grpc, port: 50051, protocol: grpc}]
  serviceAccounts: [client-a]
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: client-a, namespace: default}
spec:
  address: 127.0.0.1
  services: [caller]
  serviceAccount: client-a
%s`

// unresolved runs client-a once against echo and reports whether the
// call failed for want of configuration: neither served nor refused by
// echo's RBAC, which is what a client sent echo's configuration would get.
func unresolved(t *testing.T, cp *controlPlane, dir, boot string) (bool, trafficReport) {
	t.Helper()
	m := &trafficMesh{cp: cp, dir: dir, boot: boot}
	r := m.call(t, "echo", "--count", "1", "--ready-any", "--ready-timeout", "3s", "--timeout", "1s")
	return r.Total == 1 && r.ByCode["OK"] == 0 && r.ByCode["PERMISSION_DENIED"] == 0, r
}

// TestConfigScoping drives gRPC's proxyless client through both scoping
// modes: under auto it is sent no configuration for a service no policy
// lets it call, until a policy grants it; under explicit it is sent only
// the services its Workload lists.
func TestConfigScoping(t *testing.T) {
	dir := t.TempDir()
	cp := startMTLSCP(t, dir+"/data", nettest.FreeAddr(t), nettest.FreeAddr(t), "example.org")
	apply := func(name, yaml string) { cp.mustCtl(t, "apply", "-f", writeFile(t, dir, name+".yaml", yaml)) }
	apply("mesh-auto", fmt.Sprintf(scopingMesh, "auto", ""))
	apply("policy-b", fmt.Sprintf(authzPolicy, allowRule(clientBID)))
	bundle := writeFile(t, dir, "bundle.pem", cp.ctlStdout(t, "bundle"))

	echoAddr := nettest.FreeAddr(t)
	agentEcho := startAgent(t, cp, bundle, "echo", "echo", serverWorkload(t, echoAddr, "v1")...)
	agentA := startAgent(t, cp, bundle, "client-a", "client-a")
	server := start(t, "echo-server", "--xds", "--bootstrap", grpcBootstrap(t, cp, dir, "echo.json", "echo.default", agentEcho.dir), "--addr", echoAddr, "--name", "echo")
	server.waitFor(regexp.MustCompile(`serving mode SERVING`), 20*time.Second)
	clientA := authzClient{name: "client-a", boot: grpcBootstrap(t, cp, dir, "client-a.json", "client-a.default", agentA.dir)}
	expectRBAC(t, cp, clientBID)

	notSent := func(t *testing.T, what string) {
		t.Helper()
		var last trafficReport
		awaitBehaviour(t, what, func() (bool, trafficReport) {
			ok, r := unresolved(t, cp, dir, clientA.boot)
			last = r
			return ok, r
		})
		t.Logf("client-a: %s", last)
	}
	served := func(t *testing.T, what string) {
		t.Helper()
		awaitBehaviour(t, what, clientA.expect(t, cp, dir, "OK"))
	}
	// listenersSent is what the control plane answered client-a's
	// proxyless node when it asked for echo's Listener, once acked; a
	// running client keeps the node connected meanwhile.
	listenersSent := func(t *testing.T) string {
		t.Helper()
		clientA.watch(t, 10*time.Second)
		var body string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			var err error
			if body, err = authzAPIBody(cp, "/v1/proxies/client-a.default/config"); err == nil && strings.Contains(body, `"ackedVersion"`) {
				return body
			}
		}
		t.Fatalf("client-a's proxyless node acked no Listener response within 10s:\n%s", body)
		return ""
	}
	describes := func(t *testing.T, want string) {
		t.Helper()
		if out := cp.mustCtl(t, "describe", "proxy", "client-a.default"); !strings.Contains(out, want) {
			t.Fatalf("describe proxy client-a.default lacks %q:\n%s", want, out)
		}
	}

	// checks runs embassyctl check for client-a's call to echo, which
	// judges the configuration client-a's proxy is sent before policies.
	checks := func(t *testing.T, wantCode int, want string) {
		t.Helper()
		out, code := cp.ctl(t, "check", "--from", clientAID, "--to", "echo.default")
		if code != wantCode || !strings.Contains(out, want) {
			t.Fatalf("embassyctl check from client-a to echo exited %d, want %d with %q:\n%s", code, wantCode, want, out)
		}
	}

	if !t.Run("auto: no policy allows client-a, so echo is not sent", func(t *testing.T) {
		notSent(t, "client-a's channel to echo never ready")
		if body := listenersSent(t); strings.Contains(body, "echo.default:50051") {
			t.Fatalf("client-a was sent echo's Listener:\n%s", body)
		}
		describes(t, "- echo.default: no policy of echo can allow "+clientAID)
		describes(t, "+ other.default: static endpoint 127.0.0.1 is behind no policy")
	}) {
		return
	}
	if !t.Run("auto: a policy granting client-a makes echo appear", func(t *testing.T) {
		apply("policy-ab", fmt.Sprintf(authzPolicy, allowRule(clientAID)+allowRule(clientBID)))
		served(t, "client-a served by echo")
		if body := listenersSent(t); !strings.Contains(body, "echo.default:50051") {
			t.Fatalf("client-a was not sent echo's Listener:\n%s", body)
		}
		describes(t, "+ echo.default: policy default/echo-authz can allow "+clientAID)
	}) {
		return
	}
	if !t.Run("explicit: only what client-a lists is sent", func(t *testing.T) {
		apply("mesh-explicit-other", fmt.Sprintf(scopingMesh, "explicit", "  egress: [{service: other}]\n"))
		notSent(t, "echo left out of client-a's configuration")
		describes(t, "- echo.default: not listed in spec.egress")
		// policy-ab allows client-a, yet its proxy has no route to echo.
		checks(t, 1, "why: not in the caller's config: not listed in spec.egress")
		apply("mesh-explicit-echo", fmt.Sprintf(scopingMesh, "explicit", "  egress: [{service: echo}]\n"))
		served(t, "client-a served by echo once listed")
		describes(t, "+ echo.default: listed in spec.egress of Workload default/client-a")
		checks(t, 0, "ALLOWED")
	}) {
		return
	}
}
