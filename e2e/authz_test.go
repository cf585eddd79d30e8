package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/internal/nettest"
	"embassy.dev/embassy/pkg/status"
)

// authzMesh is the mesh of the authorization test: STRICT mTLS in trust
// domain example.org and one service, echo, without a Route (the default
// route sends everything to its workloads).
const authzMesh = strictMesh + `---
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  ports: [{name: grpc, port: 50051, protocol: grpc}]
`

// authzWorkload is the echo server's Workload; %s is its port.
const authzWorkload = `apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: echo, namespace: default}
spec:
  address: 127.0.0.1
  services: [echo]
  ports: [{name: grpc, port: %s}]
  serviceAccount: echo
`

// authzPolicy is the echo-authz AuthorizationPolicy; %s are its allow
// rules, one line each. Every rule compares the caller's SPIFFE ID, which
// partial evaluation turns into an RBAC principal, so proxyless servers
// can enforce it.
const authzPolicy = `apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: echo-authz, namespace: default}
spec:
  targets: {services: [echo]}
  mode: enforce
  modules:
    - name: authz.rego
      rego: |
        package envoy.authz

        default allow := false
%s`

const (
	clientAID = "spiffe://example.org/ns/default/sa/client-a"
	clientBID = "spiffe://example.org/ns/default/sa/client-b"
	// authzCalls is how many calls each measured run makes.
	authzCalls = 20
)

// allowRule is one line of authzPolicy allowing the caller id.
func allowRule(id string) string {
	return fmt.Sprintf("        allow if input.attributes.source.principal == %q\n", id)
}

// TestProxylessAuthz enforces a compiled AuthorizationPolicy on an
// xDS-enabled gRPC server: the policy allows client-a and denies client-b
// by SPIFFE ID through the RBAC filter of the server's Listener, and a new
// revision allowing client-b too applies without restarting anything.
func TestProxylessAuthz(t *testing.T) {
	dir := t.TempDir()
	xdsAddr, apiAddr := nettest.FreeAddr(t), nettest.FreeAddr(t)
	// The builtin CA is made for example.org, the Mesh's trust domain.
	cp := startMTLSCP(t, dir+"/data", xdsAddr, apiAddr, "example.org")
	cp.mustCtl(t, "apply", "-f", writeFile(t, dir, "mesh.yaml", authzMesh))
	bundle := writeFile(t, dir, "bundle.pem", cp.ctlStdout(t, "bundle"))

	// Each agent attests under its app's workload name; the server's
	// registers the echo Workload.
	echoAddr := nettest.FreeAddr(t)
	agentEcho := startAgent(t, cp, bundle, "echo", "echo", serverWorkload(t, echoAddr, "v1")...)
	agentA := startAgent(t, cp, bundle, "client-a", "client-a")
	agentB := startAgent(t, cp, bundle, "client-b", "client-b")

	serverBoot := grpcBootstrap(t, cp, dir, "echo.json", "echo.default", agentEcho.dir)
	server := start(t, "echo-server", "--xds", "--bootstrap", serverBoot, "--addr", echoAddr, "--name", "echo")
	server.waitFor(regexp.MustCompile(`serving mode SERVING`), 20*time.Second)
	clientA := authzClient{name: "client-a", boot: grpcBootstrap(t, cp, dir, "client-a.json", "client-a.default", agentA.dir)}
	clientB := authzClient{name: "client-b", boot: grpcBootstrap(t, cp, dir, "client-b.json", "client-b.default", agentB.dir)}

	// On failure, show what the server was served and whether it refused it.
	t.Cleanup(func() {
		if t.Failed() {
			for _, path := range []string{"/v1/proxies", "/v1/proxies/echo.default/config"} {
				body, _ := authzAPIBody(cp, path)
				t.Logf("GET %s:\n%s", path, body)
			}
		}
	})

	// Each step builds on the one before, so the first failure ends the test.
	if !t.Run("without a policy both clients are served", func(t *testing.T) {
		for _, c := range []authzClient{clientA, clientB} {
			if r := c.run(t, cp, dir); r.ByCode["OK"] != authzCalls {
				t.Fatalf("%s before any policy: %s", c.name, r)
			}
		}
	}) {
		return
	}

	if !t.Run("the policy allows client-a and denies client-b", func(t *testing.T) {
		cp.mustCtl(t, "apply", "-f", writeFile(t, dir, "policy-1.yaml", fmt.Sprintf(authzPolicy, allowRule(clientAID))))
		rev1 := expectRBAC(t, cp, clientAID)
		awaitBehaviour(t, "client-b denied", clientB.expect(t, cp, dir, "PERMISSION_DENIED"))
		expectServedRBAC(t, cp, clientAID)
		a, b := clientA.run(t, cp, dir), clientB.run(t, cp, dir)
		if a.ByCode["OK"] != authzCalls {
			t.Fatalf("client-a under revision %s: %s", rev1, a)
		}
		if b.ByCode["PERMISSION_DENIED"] != authzCalls {
			t.Fatalf("client-b under revision %s: %s", rev1, b)
		}
		t.Logf("revision %s: client-a byCode %v; client-b byCode %v (%s)", rev1, a.ByCode, b.ByCode, b.FirstError)
	}) {
		return
	}

	if !t.Run("a revision allowing client-b applies without a restart", func(t *testing.T) {
		// One channel of client-b, open across the change, is denied
		// before it and served after it.
		watch := clientB.watch(t, 15*time.Second)
		watch.until(t, "a denied interval on client-b's open channel", "PERMISSION_DENIED")
		cp.mustCtl(t, "apply", "-f", writeFile(t, dir, "policy-2.yaml", fmt.Sprintf(authzPolicy, allowRule(clientAID)+allowRule(clientBID))))
		took := watch.until(t, "an all-OK interval on client-b's open channel", "OK")
		t.Logf("client-b's open channel was served %s after embassyctl apply returned", took.Round(time.Millisecond))
		rev2 := expectRBAC(t, cp, clientAID, clientBID)
		awaitBehaviour(t, "client-b allowed", clientB.expect(t, cp, dir, "OK"))
		expectServedRBAC(t, cp, clientAID, clientBID)
		a, b := clientA.run(t, cp, dir), clientB.run(t, cp, dir)
		if a.ByCode["OK"] != authzCalls || b.ByCode["OK"] != authzCalls {
			t.Fatalf("under revision %s: client-a %s; client-b %s", rev2, a, b)
		}
		select {
		case <-server.done:
			t.Fatalf("echo-server exited:\n%s", server.output())
		default:
		}
		if n := strings.Count(server.output(), "serving mode SERVING"); n != 1 {
			t.Errorf("echo-server entered serving mode %d times, want once:\n%s", n, server.output())
		}
		t.Logf("revision %s: client-a byCode %v; client-b byCode %v", rev2, a.ByCode, b.ByCode)
	}) {
		return
	}

	t.Run("the server acknowledged everything it was sent", func(t *testing.T) {
		var res struct {
			Proxies []status.Proxy `json:"proxies"`
		}
		if err := json.Unmarshal([]byte(authzAPIGet(t, cp, "/v1/proxies")), &res); err != nil {
			t.Fatal(err)
		}
		var flavours []string
		for _, p := range res.Proxies {
			if p.ID != "echo.default" {
				continue
			}
			flavours = append(flavours, p.Flavour)
			for typ, ts := range p.Types {
				if ts.NackCount != 0 {
					t.Errorf("echo.default (%s) NACKed %s %d times; last: %+v", p.Flavour, typ, ts.NackCount, ts.LastNack)
				}
			}
		}
		if !slices.Contains(flavours, "proxyless") {
			t.Fatalf("no proxyless echo.default among the connected proxies, only %v", flavours)
		}
	})
}

// authzClient is one proxyless caller: its name and its bootstrap, on its
// agent's certificates.
type authzClient struct {
	name, boot string
}

// run makes authzCalls calls as the client, each run a new process and so
// a new channel on the configuration served now. --ready-any ends the
// readiness wait at a denial, which is an answer.
func (c authzClient) run(t *testing.T, cp *controlPlane, dir string) trafficReport {
	t.Helper()
	m := &trafficMesh{cp: cp, dir: dir, boot: c.boot}
	return m.call(t, "echo", "--count", fmt.Sprint(authzCalls), "--concurrency", "2", "--ready-any", "--ready-timeout", "5s")
}

// expect is a probe for awaitBehaviour: every call of a run ended with code.
func (c authzClient) expect(t *testing.T, cp *controlPlane, dir, code string) func() (bool, trafficReport) {
	return func() (bool, trafficReport) {
		r := c.run(t, cp, dir)
		return r.ByCode[code] == authzCalls, r
	}
}

// authzWatch is a client running in watch mode: one channel, one JSON
// report per interval.
type authzWatch struct {
	lines <-chan string
	// end is when the run must have ended.
	end time.Time
}

// watch starts the client calling for d, one call at a time, reporting
// every 100 ms. It is stopped when the test ends.
func (c authzClient) watch(t *testing.T, d time.Duration) *authzWatch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d+10*time.Second)
	cmd := exec.CommandContext(ctx, bin("echo-client"), "--bootstrap", c.boot, "--target", "xds:///echo.default:50051", "--json",
		"--ready-any", "--ready-timeout", "5s", "--concurrency", "1", "--interval", "100ms", "--duration", d.String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	return &authzWatch{lines: lines(out), end: time.Now().Add(d + 10*time.Second)}
}

// until reads intervals until one whose every call ended with code, and
// returns how long that took.
func (w *authzWatch) until(t *testing.T, what, code string) time.Duration {
	t.Helper()
	start := time.Now()
	var last trafficReport
	timeout := time.After(time.Until(w.end))
	for {
		select {
		case l, ok := <-w.lines:
			if !ok {
				t.Fatalf("echo-client ended before %s; last interval: %s", what, last)
			}
			if err := json.Unmarshal([]byte(l), &last); err != nil {
				t.Fatalf("echo-client printed %q: %v", l, err)
			}
			if last.Total > 0 && last.ByCode[code] == last.Total {
				return time.Since(start)
			}
		case <-timeout:
			t.Fatalf("no %s in time; last interval: %s", what, last)
		}
	}
}

// expectRBAC checks that echo-authz compiled to RBAC, targets the echo
// workload and allows exactly the principals ids, and returns its revision.
func expectRBAC(t *testing.T, cp *controlPlane, ids ...string) string {
	t.Helper()
	explain := cp.mustCtl(t, "policy", "explain", "echo-authz")
	if !strings.Contains(explain, "compiled to RBAC") {
		t.Fatalf("echo-authz did not compile to RBAC:\n%s", explain)
	}
	for _, id := range []string{clientAID, clientBID} {
		if want := slices.Contains(ids, id); strings.Contains(explain, id) != want {
			t.Fatalf("explain names %s: %v, want %v:\n%s", id, !want, want, explain)
		}
	}
	type policyRow struct {
		Name, Revision, Enforcement, Mode string
		Workloads                         []string
	}
	var res struct {
		Policies []policyRow `json:"policies"`
	}
	// /v1/policies shows what was pushed, which follows the apply by a
	// debounce and the policy's compile in its sandbox process.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := json.Unmarshal([]byte(authzAPIGet(t, cp, "/v1/policies")), &res); err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(res.Policies, func(p policyRow) bool { return p.Name == "echo-authz" }) || time.Now().After(deadline) {
			break
		}
	}
	for _, p := range res.Policies {
		if p.Name != "echo-authz" {
			continue
		}
		if p.Enforcement != "rbac" || p.Mode != "enforce" || len(p.Workloads) != 1 || p.Workloads[0] != "default/echo" {
			t.Fatalf("GET /v1/policies reports echo-authz as %+v, want rbac, enforce, on default/echo", p)
		}
		t.Logf("policy explain echo-authz:\n%s", explain)
		return p.Revision
	}
	t.Fatalf("GET /v1/policies has no echo-authz: %+v", res.Policies)
	return ""
}

// expectServedRBAC checks that the echo server's Listener, as last sent
// to the proxyless echo.default, carries echo-authz's RBAC filter and
// exactly the principals ids.
func expectServedRBAC(t *testing.T, cp *controlPlane, ids ...string) {
	t.Helper()
	served := authzAPIGet(t, cp, "/v1/proxies/echo.default/config")
	if !strings.Contains(served, "envoy.filters.http.rbac/default/echo-authz") {
		t.Fatalf("echo.default was not sent echo-authz's RBAC filter:\n%s", served)
	}
	for _, id := range []string{clientAID, clientBID} {
		if want := slices.Contains(ids, id); strings.Contains(served, id) != want {
			t.Fatalf("the configuration sent to echo.default names %s: %v, want %v:\n%s", id, !want, want, served)
		}
	}
}

// authzAPIGet reads path from the control plane's API with the admin
// token and returns the body; it fails the test on any error.
func authzAPIGet(t *testing.T, cp *controlPlane, path string) string {
	t.Helper()
	body, err := authzAPIBody(cp, path)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// authzAPIBody is authzAPIGet for where failing is no longer possible (a
// cleanup reporting a failure): errors become the returned text.
func authzAPIBody(cp *controlPlane, path string) (string, error) {
	token, err := os.ReadFile(cp.dataDir + "/admin-token")
	if err != nil {
		return err.Error(), err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+cp.api+path, nil)
	if err != nil {
		return err.Error(), err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error(), fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s\n%s", path, resp.Status, body)
	}
	return string(body), err
}
