package e2e

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"embassy.dev/embassy/internal/echo"
	"embassy.dev/embassy/internal/nettest"
)

// servingMesh is a STRICT mesh whose echo and greet Services only service
// account echo-a may serve. Calls to echo carrying x-pick: intruder go to
// the endpoints labelled role=intruder, which none is yet.
const servingMesh = strictMesh + `---
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  ports: [{name: grpc, port: 50051, protocol: grpc}]
  serviceAccounts: [echo-a]
---
apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: echo, namespace: default}
spec:
  service: echo
  rules:
    - matches: [{headers: [{name: x-pick, exact: intruder}]}]
      backends: [{subset: {role: intruder}}]
    - backends: [{subset: {version: v1}}]
---
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: greet, namespace: default}
spec:
  ports: [{name: grpc, port: 50052, protocol: grpc}]
  serviceAccounts: [echo-a]
`

// servingEchoWithStatic is the echo Service with a static endpoint, the
// address the operator was given for a legacy host, where the intruder
// listens instead.
const servingEchoWithStatic = `apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  ports: [{name: grpc, port: 50051, protocol: grpc}]
  serviceAccounts: [echo-a]
  endpoints: [{address: 127.0.0.1, port: %s, labels: {role: intruder}}]
`

// intruderServer is an Echo server outside the mesh's control, serving
// TLS with an SVID of the mesh that the echo Service does not list. It
// counts the TLS handshakes it is asked for and the calls it answers.
type intruderServer struct {
	addr       string
	handshakes atomic.Int64
	echo       *echo.Server
}

func startIntruder(t *testing.T, addr string, cert tls.Certificate) *intruderServer {
	t.Helper()
	in := &intruderServer{addr: addr}
	cfg := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		in.handshakes.Add(1)
		return &cert, nil
	}}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg)))
	in.echo = echo.RegisterWith(s, echo.Options{Name: "intruder"})
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return in
}

// TestOnlyListedIdentitiesServe runs the attack of an identity serving a
// Service it was not given, at both layers: an agent attested as
// echo-client cannot register itself behind echo, and a server holding
// echo-client's SVID at an address the mesh does route to fails the
// client's TLS handshake. Either way no call reaches it.
func TestOnlyListedIdentitiesServe(t *testing.T) {
	dir := t.TempDir()
	cp := startMTLSCP(t, dir+"/data", nettest.FreeAddr(t), nettest.FreeAddr(t), "example.org")
	m := &trafficMesh{cp: cp, dir: dir}
	m.apply(t, "mesh", servingMesh)
	bundle := writeFile(t, dir, "bundle.pem", cp.ctlStdout(t, "bundle"))

	v1Addr, intruderAddr := nettest.FreeAddr(t), nettest.FreeAddr(t)
	agentV1 := startAgent(t, cp, bundle, "echo-v1", "echo-a", serverWorkload(t, v1Addr, "v1")...)
	agentC := startAgent(t, cp, bundle, "echo-client", "echo-client")
	boot := grpcBootstrap(t, cp, dir, "echo-v1.json", "echo-v1.default", agentV1.dir)
	start(t, "echo-server", "--xds", "--bootstrap", boot, "--addr", v1Addr, "--name", "v1").waitFor(regexp.MustCompile(`serving mode SERVING`), 20*time.Second)
	m.boot = grpcBootstrap(t, cp, dir, "echo-client.json", "echo-client.default", agentC.dir)

	// The intruder holds a real SVID of the mesh (service account
	// echo-client) and asks to back echo with the v1 label.
	intruderAgent := startAgent(t, cp, bundle, "intruder", "echo-client",
		"--address", "127.0.0.1", "--service", "echo", "--port", "grpc="+portOf(t, intruderAddr), "--label", "version=v1")
	intruder := startIntruder(t, intruderAddr, intruderAgent.keyPair(t))

	t.Run("an agent's registration for a Service that does not list it is refused", func(t *testing.T) {
		// A refused first registration cannot pass by retrying: the agent
		// says why and stops.
		code, out := exitOf(t, intruderAgent.proc, 20*time.Second)
		line := regexp.MustCompile(`refused to register workload "intruder".*may not serve service echo\.default.*allows \[echo-a\]`).FindString(out)
		if code == 0 || line == "" {
			t.Fatalf("the intruder's agent exited %d, want non-zero with the refusal naming echo.default and [echo-a]:\n%s", code, out)
		}
		t.Logf("intruder's agent: %s", line)
		if out := cp.mustCtl(t, "get", "workloads", "-A"); strings.Contains(out, "intruder") {
			t.Fatalf("the refused registration is stored:\n%s", out)
		}
		r := m.call(t, "echo", "--count", "100")
		if r.Errors != 0 || r.ByBackend["v1"] != 100 {
			t.Fatalf("want all 100 calls on echo v1, got %s", r)
		}
		if n := intruder.echo.Attempts(); n != 0 {
			t.Fatalf("%d calls reached the intruder", n)
		}
		if n := intruder.handshakes.Load(); n != 0 {
			t.Fatalf("clients opened %d TLS connections to the intruder, which no endpoint names", n)
		}
		t.Logf("100 calls: %v; the intruder saw %d calls and %d handshakes", r.ByBackend, intruder.echo.Attempts(), intruder.handshakes.Load())
	})

	t.Run("a server outside the list at a routed address fails the client's TLS handshake", func(t *testing.T) {
		m.apply(t, "echo-static", fmt.Sprintf(servingEchoWithStatic, portOf(t, intruderAddr)))
		// The client is routed to the intruder's address (it opens TLS
		// connections there) and every call fails: its certificate names
		// sa/echo-client, and the client accepts only sa/echo-a.
		awaitBehaviour(t, "calls routed to the intruder failing its TLS check", func() (bool, trafficReport) {
			r := m.call(t, "echo", "--header", "x-pick=intruder", "--count", "20", "--ready-any", "--ready-timeout", "3s", "--timeout", "2s")
			return intruder.handshakes.Load() > 0 && r.Total == 20 && r.Errors == 20, r
		})
		r := m.call(t, "echo", "--header", "x-pick=intruder", "--count", "50", "--ready-any", "--ready-timeout", "3s", "--timeout", "2s")
		if r.Errors != r.Total || r.Total != 50 {
			t.Fatalf("calls routed to the intruder: %s, want all 50 refused", r)
		}
		if n := intruder.echo.Attempts(); n != 0 {
			t.Fatalf("%d calls reached the intruder", n)
		}
		if r2 := m.call(t, "echo", "--count", "50"); r2.Errors != 0 || r2.ByBackend["v1"] != 50 {
			t.Fatalf("calls without the header: %s, want all 50 on v1", r2)
		}
		t.Logf("50 calls routed to the intruder: %v, first error %q; it was asked for %d handshakes and answered %d calls",
			r.ByCode, r.FirstError, intruder.handshakes.Load(), intruder.echo.Attempts())
	})
	t.Run("a token limited to services cannot register beyond them", func(t *testing.T) {
		tokenFile := dir + "/echo-v9.token"
		cp.mustCtl(t, "token", "create", "-n", "default", "--service-account", "echo-a", "--workload", "echo-v9", "--service", "echo", "--output", tokenFile)
		if fi, err := os.Stat(tokenFile); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("token create --output: %v, mode %v, want 0600", err, fi.Mode())
		}
		// greet allows echo-a, but the token does not allow greet.
		a := launchAgent(t, agentDir(t, "echo-v9"), "embassy-agent", "echo-v9", "--cp", cp.xds, "--token-file", tokenFile, "--trust-bundle", bundle,
			"--address", "127.0.0.1", "--service", "echo", "--service", "greet", "--port", "grpc="+portOf(t, nettest.FreeAddr(t)))
		code, out := exitOf(t, a.proc, 20*time.Second)
		line := regexp.MustCompile(`refused to register workload "echo-v9".*join token allows only services \[echo\], not "greet"`).FindString(out)
		if code == 0 || line == "" {
			t.Fatalf("the agent exited %d, want non-zero with the refusal naming the token's services:\n%s", code, out)
		}
		t.Logf("agent: %s", line)
		if out := cp.mustCtl(t, "get", "workloads", "-A"); strings.Contains(out, "echo-v9") {
			t.Fatalf("a registration beyond the token's services is stored:\n%s", out)
		}
	})
}
