package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"embassy.dev/embassy/internal/echo"
	"embassy.dev/embassy/internal/nettest"
)

// secureMesh is the mesh of the mTLS tests: STRICT, trust domain
// example.org, SVIDs of the shortest lifetime validation allows so they
// rotate every 5s, and echo split evenly between v1 and v2.
const secureMesh = strictMesh + `  svidTTL: 10s
---
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  ports: [{name: grpc, port: 50051, protocol: grpc}]
  serviceAccounts: [echo-a, echo-b]
---
apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: echo, namespace: default}
spec:
  service: echo
  rules:
    - backends:
        - {subset: {version: v1}, weight: 50}
        - {subset: {version: v2}, weight: 50}
`

const clientID = "spiffe://example.org/ns/default/sa/echo-client"

// TestMTLSProxyless runs the secure path end to end: embassy-cp with TLS
// xDS, a join token and an embassy-agent per workload, xDS-enabled echo
// servers and a proxyless client on their agents' certificates, in a
// STRICT mesh.
func TestMTLSProxyless(t *testing.T) {
	dir := t.TempDir()
	xdsAddr, apiAddr := nettest.FreeAddr(t), nettest.FreeAddr(t)
	// The builtin CA is made for the Mesh's trust domain on the first
	// start; restarted without --trust-domain, the data dir keeps it.
	cp := startMTLSCP(t, dir+"/data", xdsAddr, apiAddr, "example.org")
	cp.mustCtl(t, "apply", "-f", writeFile(t, dir, "mesh.yaml", secureMesh))
	cp.stop()
	cp = startMTLSCP(t, dir+"/data", xdsAddr, apiAddr, "")
	if !strings.Contains(cp.output(), "trust domain example.org") {
		t.Fatalf("after the restart xDS is not served for example.org:\n%s", cp.output())
	}
	bundle := writeFile(t, dir, "bundle.pem", cp.ctlStdout(t, "bundle"))

	// Each agent attests under its app's workload name, so its policy
	// stream shares the app's node id (the control plane keeps the two
	// apart by flavour), and the servers' agents register their Workloads.
	v1Addr, v2Addr := nettest.FreeAddr(t), nettest.FreeAddr(t)
	agentV1 := startAgent(t, cp, bundle, "echo-v1", "echo-a", serverWorkload(t, v1Addr, "v1")...)
	agentV2 := startAgent(t, cp, bundle, "echo-v2", "echo-b", serverWorkload(t, v2Addr, "v2")...)
	agentC := startAgent(t, cp, bundle, "echo-client", "echo-client")
	agents := []*meshAgent{agentV1, agentV2, agentC}

	serving := regexp.MustCompile(`serving mode SERVING`)
	for _, s := range []struct {
		a          *meshAgent
		addr, name string
	}{{agentV1, v1Addr, "v1"}, {agentV2, v2Addr, "v2"}} {
		node := "echo-" + s.name
		boot := grpcBootstrap(t, cp, dir, node+".json", node+".default", s.a.dir)
		start(t, "echo-server", "--xds", "--bootstrap", boot, "--addr", s.addr, "--name", s.name).waitFor(serving, 20*time.Second)
	}
	clientBoot := grpcBootstrap(t, cp, dir, "echo-client.json", "echo-client.default", agentC.dir)

	t.Run("each server's agent and the server itself are two proxies of one node id", func(t *testing.T) {
		for _, node := range []string{"echo-v1.default", "echo-v2.default"} {
			flavours := proxyFlavours(t, cp, node)
			if !slices.Equal(flavours, []string{"agent", "proxyless"}) {
				t.Errorf("%s is connected as %v, want an agent and a proxyless server", node, flavours)
			}
		}
		if out := cp.mustCtl(t, "get", "workloads", "-A", "-o", "yaml"); !strings.Contains(out, "registered-by: agent") {
			t.Errorf("the echo servers' Workloads were not registered by their agents:\n%s", out)
		}
	})

	t.Run("STRICT calls are mTLS and the servers see the client's SPIFFE ID", func(t *testing.T) {
		s := runClient(t, clientBoot, "--count", "200")
		if s.Errors != 0 || s.ByBackend["v1"] == 0 || s.ByBackend["v2"] == 0 {
			t.Fatalf("want 200 calls over both versions without errors, got %+v", s)
		}
		seen := map[string]echo.Peer{}
		for i := 0; i < 20 && len(seen) < 2; i++ {
			p := whoamiOver(t, clientBoot)
			seen[p.Server] = p
		}
		for _, name := range []string{"v1", "v2"} {
			p, ok := seen[name]
			if !ok {
				t.Fatalf("no Whoami reached %s in 20 tries: %+v", name, seen)
			}
			if p.Security != "tls" || p.SPIFFEID != clientID {
				t.Fatalf("%s saw the client as %+v, want %s over tls", name, p, clientID)
			}
		}
		t.Logf("split over 200 mTLS calls: %v; v1 saw %s", s.ByBackend, seen["v1"].SPIFFEID)
	})

	t.Run("callers without a certificate of the trust domain are refused", func(t *testing.T) {
		call := func(creds credentials.TransportCredentials) (echo.Peer, error) {
			cc, err := grpc.NewClient(v1Addr, grpc.WithTransportCredentials(creds))
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			return echo.Whoami(ctx, cc)
		}
		if p, err := call(insecure.NewCredentials()); err == nil {
			t.Fatalf("a plaintext call to echo v1 succeeded in a STRICT mesh: %+v", p)
		} else {
			t.Logf("plaintext: %v", err)
		}
		// The server's certificate is not what is tested here, so the
		// client does not check it; the server must refuse the client's.
		foreign := newTestCA(t, "another trust domain", "spiffe://elsewhere.example").svid(t, "spiffe://elsewhere.example/ns/default/sa/echo-client")
		if p, err := call(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{foreign}, InsecureSkipVerify: true})); err == nil {
			t.Fatalf("a client with a certificate of another trust domain was served: %+v", p)
		} else {
			t.Logf("foreign trust domain: %v", err)
		}
		// The same client with the mesh certificate gets through, so the
		// refusals above are about the certificates.
		p, err := call(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{agentC.keyPair(t)}, InsecureSkipVerify: true}))
		if err != nil || p.SPIFFEID != clientID {
			t.Fatalf("with the client's SVID: %+v, %v", p, err)
		}
		// Nor does the control plane serve xDS without a certificate.
		insecureBoot := writeFile(t, dir, "insecure.json", cp.mustCtl(t, "bootstrap", "grpc", "--workload", "echo-client.default", "--xds-address", cp.xds, "--insecure"))
		out, err := exec.Command(bin("echo-client"), "--bootstrap", insecureBoot, "--count", "1", "--ready-timeout", "2s").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "not ready") {
			t.Fatalf("a client with plaintext xDS got configuration from the TLS control plane: %v\n%s", err, out)
		}
	})

	t.Run("calls keep working across SVID rotations and new connections use the new SVID", func(t *testing.T) {
		first := agentC.leafOrNil()
		client := exec.Command(bin("echo-client"), "--bootstrap", clientBoot, "--target", "xds:///echo.default:50051",
			"--json", "--interval", "1s", "--duration", "26s", "--concurrency", "2")
		stdout, err := client.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		client.Stderr = os.Stderr
		if err := client.Start(); err != nil {
			t.Fatal(err)
		}
		defer client.Process.Kill()
		ch := lines(stdout)

		serials := map[*meshAgent][]string{}
		observe := func() {
			for _, a := range agents {
				if l := a.leafOrNil(); l != nil {
					if s := serials[a]; len(s) == 0 || s[len(s)-1] != echo.SerialHex(l) {
						serials[a] = append(serials[a], echo.SerialHex(l))
					}
				}
			}
		}
		observe()
		var total, errs, intervals int
		var fresh *echo.Peer
		deadline := time.After(40 * time.Second)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
	loop:
		for {
			select {
			case l, ok := <-ch:
				if !ok {
					break loop
				}
				var s split
				if err := json.Unmarshal([]byte(l), &s); err != nil {
					t.Fatalf("echo-client printed %q: %v", l, err)
				}
				intervals++
				total, errs = total+s.Total, errs+s.Errors
				if s.Errors != 0 {
					t.Errorf("interval %d: %d of %d calls failed: %s", intervals, s.Errors, s.Total, s.FirstError)
				}
			case <-tick.C:
				observe()
				// After the client's first rotation, a new channel must
				// present the new SVID.
				if fresh == nil && len(serials[agentC]) >= 2 {
					time.Sleep(1500 * time.Millisecond) // past gRPC's file refresh (1s)
					p := whoamiOver(t, clientBoot)
					fresh = &p
				}
			case <-deadline:
				t.Fatal("echo-client did not finish its 26s run within 40s")
			}
		}
		if err := client.Wait(); err != nil {
			t.Fatalf("echo-client: %v", err)
		}
		observe()
		t.Logf("%d calls in %d intervals on one channel, %d errors; client SVID serials: %d, echo-v1: %d, echo-v2: %d",
			total, intervals, errs, len(serials[agentC]), len(serials[agentV1]), len(serials[agentV2]))
		if intervals < 25 || total == 0 || errs != 0 {
			t.Fatalf("want ≥ 25 one-second intervals of calls without errors, got %d intervals, %d calls, %d errors", intervals, total, errs)
		}
		if changes := len(serials[agentC]) - 1; changes < 2 {
			t.Fatalf("the client's svid.pem changed %d times in 26s with a 10s SVID TTL, want ≥ 2: %v", changes, serials[agentC])
		}
		if fresh == nil {
			t.Fatal("no fresh connection was made after a rotation")
		}
		if fresh.SPIFFEID != clientID || fresh.Serial == echo.SerialHex(first) || !slices.Contains(serials[agentC][1:], fresh.Serial) {
			t.Fatalf("a channel dialed after the rotation presented %+v; the first SVID was %s, later ones %v",
				fresh, echo.SerialHex(first), serials[agentC][1:])
		}
		t.Logf("a channel dialed after the rotation presented serial %s (first was %s)", fresh.Serial, echo.SerialHex(first))
	})

	t.Run("a node id naming another identity's workload gets no configuration", func(t *testing.T) {
		// The client's certificate (sa echo-client) with echo-v1's node id
		// (sa echo-a).
		boot := grpcBootstrap(t, cp, dir, "impostor.json", "echo-v1.default", agentC.dir)
		out, err := exec.Command(bin("echo-client"), "--bootstrap", boot, "--count", "1", "--ready-timeout", "3s").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "not ready") {
			t.Fatalf("a client posing as echo-v1 became ready: %v\n%s", err, out)
		}
		cp.waitFor(regexp.MustCompile(`xDS stream refused: node=echo-v1\.default .*sa/echo-client`), 5*time.Second)
	})

	t.Run("no secret reaches the logs", func(t *testing.T) {
		admin, err := os.ReadFile(cp.dataDir + "/admin-token")
		if err != nil {
			t.Fatal(err)
		}
		secrets := map[string]string{"the admin token": strings.TrimSpace(string(admin)), "a private key": "PRIVATE KEY"}
		for _, a := range agents {
			secrets[a.name+"'s join token"] = a.token
		}
		logs := map[string]string{"embassy-cp": cp.output()}
		for _, a := range agents {
			logs["the agent of "+a.name] = a.output()
		}
		for what, secret := range secrets {
			if secret == "" {
				t.Fatalf("%s is empty", what)
			}
			for who, log := range logs {
				if strings.Contains(log, secret) {
					t.Errorf("the log of %s contains %s", who, what)
				}
			}
		}
		if !strings.Contains(cp.output(), "SVID issued") {
			t.Fatalf("the control plane's log was not captured:\n%s", cp.output())
		}
	})
}
