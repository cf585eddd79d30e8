package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"embassy.dev/embassy/internal/echo"
	"embassy.dev/embassy/internal/nettest"
	"embassy.dev/embassy/internal/workloadapitest"
	"embassy.dev/embassy/pkg/dataplane"
)

// spireMeshDoc is a STRICT mesh whose CA is SPIRE, at the control plane's
// node's socket %s.
const spireMeshDoc = strictMesh + `  ca: {type: spire, socketPath: %s}
---
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  ports: [{name: grpc, port: 50051, protocol: grpc}]
  serviceAccounts: [echo-server]
`

// startSPIREAgent starts embassy-agent (the binary binName under binDir)
// for name.default taking its SVIDs from the Workload API at socket (no
// join token, no --trust-bundle) and waits for its PEM files.
func startSPIREAgent(t *testing.T, cp *controlPlane, binName, socket, name string, args ...string) *meshAgent {
	t.Helper()
	return launchAgent(t, agentDir(t, name), binName, name, append([]string{"--cp", cp.xds, "--spire-socket", socket}, args...)...)
}

// spireEnv is what a test of a SPIRE-backed mesh needs of SPIRE, for the
// processes "cp", "echo-v1" (the server's agent) and "echo-client" (the
// client's agent).
type spireEnv struct {
	// socket is the Workload API socket of a process's node.
	socket func(name string) string
	// agentBin is the embassy-agent binary (a name under binDir) a
	// process runs, so SPIRE can tell the agents apart by path.
	agentBin func(name string) string
	// issued is the serial SPIRE serves a process now ("" when the test
	// cannot know it).
	issued func(name string) string
	// roots are SPIRE's X.509 roots; jwtKIDs the key IDs of its JWT keys.
	roots   func(t *testing.T) []*x509.Certificate
	jwtKIDs func(t *testing.T) []string
	// rotate has SPIRE issue a process a new SVID and returns its serial,
	// or "" when SPIRE rotates by itself within rotateWait.
	rotate     func(t *testing.T, name string) string
	rotateWait time.Duration
}

// TestSPIREMeshProxyless runs a mesh whose CA is SPIRE end to end. A
// SPIFFE Workload API stand-in in this process, with a CA of its own,
// plays each node's SPIRE agent (a build-tagged test runs the same against
// real SPIRE: make test-spire).
func TestSPIREMeshProxyless(t *testing.T) {
	sockDir, err := os.MkdirTemp("", "spire-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	spire, err := workloadapitest.NewAuthority("example.org")
	if err != nil {
		t.Fatal(err)
	}
	td := spiffeid.RequireTrustDomainFromString("example.org")
	servers := map[string]*workloadapitest.Server{}
	serve := func(name string, id spiffeid.ID, dns ...string) {
		s, err := spire.Serve(filepath.Join(sockDir, name+".sock"), id, dns, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		servers[name] = s
	}
	// proxyless gRPC checks the control plane's DNS name, so its SVID
	// carries the one the bootstraps dial (SPIRE entries take -dns).
	serve("cp", dataplane.ControlPlaneID(td), "localhost")
	serve("echo-v1", spiffeid.RequireFromPath(td, "/ns/default/sa/echo-server"))
	serve("echo-client", spiffeid.RequireFromPath(td, "/ns/default/sa/echo-client"))
	runSPIREMesh(t, spireEnv{
		socket:   func(name string) string { return servers[name].Path() },
		agentBin: func(string) string { return "embassy-agent" },
		issued:   func(name string) string { return echo.SerialHex(servers[name].Current().Certificates[0]) },
		roots:    func(*testing.T) []*x509.Certificate { return spire.Roots() },
		jwtKIDs: func(t *testing.T) []string {
			jwks, err := spire.JWKS()
			if err != nil {
				t.Fatal(err)
			}
			return jwksKIDs(t, jwks, "")
		},
		rotate: func(t *testing.T, name string) string {
			next, err := servers[name].Rotate()
			if err != nil {
				t.Fatal(err)
			}
			return echo.SerialHex(next.Certificates[0])
		},
		rotateWait: 15 * time.Second,
	})
}

// jwksKIDs returns the key IDs of a JWKS document's keys (of use, when
// not "").
func jwksKIDs(t *testing.T, jwks []byte, use string) []string {
	t.Helper()
	var doc struct {
		Keys []struct {
			Kid string `json:"kid"`
			Use string `json:"use"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &doc); err != nil {
		t.Fatalf("JWKS %s: %v", jwks, err)
	}
	var out []string
	for _, k := range doc.Keys {
		if use == "" || k.Use == use {
			out = append(out, k.Kid)
		}
	}
	if len(out) == 0 {
		t.Fatalf("JWKS %s has no JWT keys", jwks)
	}
	return out
}

// runSPIREMesh runs the mesh on env's SPIRE: embassy-cp takes its xDS
// certificate from it (--spire-socket), each embassy-agent its workload's
// SVID (no join token), and proxyless echo servers and a client call each
// other over STRICT mTLS on those SVIDs, configured over mTLS xDS.
func runSPIREMesh(t *testing.T, env spireEnv) {
	dir := t.TempDir()
	td := spiffeid.RequireTrustDomainFromString("example.org")
	xdsAddr, apiAddr := nettest.FreeAddr(t), nettest.FreeAddr(t)
	p := start(t, "embassy-cp", "--data-dir", dir+"/data", "--xds-addr", xdsAddr, "--api-addr", apiAddr, "--log-level", "debug",
		"--trust-domain", "example.org", "--spire-socket", env.socket("cp"))
	m := p.waitFor(servingRE, 20*time.Second)
	cp := &controlPlane{proc: p, dataDir: dir + "/data", xds: m[1], api: m[2]}
	if !strings.Contains(cp.output(), "SPIRE is the mesh's CA") {
		t.Fatalf("embassy-cp does not say SPIRE is the CA:\n%s", cp.output())
	}
	cp.mustCtl(t, "apply", "-f", writeFile(t, dir, "mesh.yaml", fmt.Sprintf(spireMeshDoc, env.socket("cp"))))

	v1Addr := nettest.FreeAddr(t)
	agentS := startSPIREAgent(t, cp, env.agentBin("echo-v1"), env.socket("echo-v1"), "echo-v1", serverWorkload(t, v1Addr, "v1")...)
	agentC := startSPIREAgent(t, cp, env.agentBin("echo-client"), env.socket("echo-client"), "echo-client")
	xdsByName := "localhost:" + portOf(t, cp.xds)
	boot := func(node string, a *meshAgent) string {
		return writeFile(t, dir, node+".json", cp.mustCtl(t, "bootstrap", "grpc", "--workload", node+".default", "--xds-address", xdsByName, "--cert-dir", a.dir))
	}
	start(t, "echo-server", "--xds", "--bootstrap", boot("echo-v1", agentS), "--addr", v1Addr, "--name", "v1").
		waitFor(regexp.MustCompile(`serving mode SERVING`), 20*time.Second)
	clientBoot := boot("echo-client", agentC)

	t.Run("the agents serve SPIRE's SVIDs and registered with them", func(t *testing.T) {
		for _, a := range []*meshAgent{agentS, agentC} {
			leaf := a.leafOrNil()
			if want := env.issued(a.name); want != "" && echo.SerialHex(leaf) != want {
				t.Errorf("the agent of %s serves serial %s, SPIRE issued %s", a.name, echo.SerialHex(leaf), want)
			}
			if !chainsTo(leaf, env.roots(t)) {
				t.Errorf("the agent of %s serves a certificate that does not chain to SPIRE's roots", a.name)
			}
		}
		if out := cp.mustCtl(t, "get", "workloads", "-A", "-o", "yaml"); !strings.Contains(out, "registered-by: agent") || !strings.Contains(out, "echo-v1") {
			t.Errorf("echo-v1's Workload was not registered by its agent:\n%s", out)
		}
		if flavours := proxyFlavours(t, cp, "echo-v1.default"); !slices.Equal(flavours, []string{"agent", "proxyless"}) {
			t.Errorf("echo-v1.default is connected as %v, want an agent and a proxyless server", flavours)
		}
	})

	t.Run("STRICT calls are mTLS on SPIRE's SVIDs", func(t *testing.T) {
		s := runClient(t, clientBoot, "--count", "100")
		if s.Errors != 0 || s.ByBackend["v1"] != 100 {
			t.Fatalf("want 100 calls to v1 without errors, got %+v", s)
		}
		peer := whoamiOver(t, clientBoot)
		if peer.Security != "tls" || peer.SPIFFEID != clientID {
			t.Fatalf("the server saw %+v, want %s over tls", peer, clientID)
		}
		if want := env.issued("echo-client"); want != "" && peer.Serial != want {
			t.Fatalf("the server saw serial %s, SPIRE issued the client %s", peer.Serial, want)
		}
		cc, err := grpc.NewClient(v1Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if p, err := echo.Whoami(ctx, cc); err == nil {
			t.Fatalf("a plaintext call succeeded in the STRICT mesh: %+v", p)
		}
	})

	t.Run("a rotation at SPIRE reaches the agent and new connections", func(t *testing.T) {
		before := echo.SerialHex(agentC.leafOrNil())
		want := env.rotate(t, "echo-client")
		rotated := func(s string) bool { return s != before && (want == "" || s == want) }
		deadline := time.Now().Add(env.rotateWait)
		for !rotated(echo.SerialHex(agentC.leafOrNil())) {
			if time.Now().After(deadline) {
				t.Fatalf("the client's agent still serves %s after %s (SPIRE's new serial: %q)", echo.SerialHex(agentC.leafOrNil()), env.rotateWait, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
		want = echo.SerialHex(agentC.leafOrNil())
		// grpc-go's file watcher rereads the files every refresh_interval.
		deadline = time.Now().Add(30 * time.Second)
		for {
			p := whoamiOver(t, clientBoot)
			if p.Serial == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a new connection still presents %s, not SPIRE's rotated %s", p.Serial, want)
			}
			time.Sleep(500 * time.Millisecond)
		}
	})

	t.Run("JWT-SVIDs come from SPIRE through the agent's Workload API", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		addr := workloadapi.WithAddr("unix://" + filepath.Join(agentC.dir, "workload.sock"))
		svid, err := workloadapi.FetchJWTSVID(ctx, jwtsvid.Params{Audience: "echo"}, addr)
		if err != nil {
			t.Fatalf("fetching a JWT-SVID from the agent: %v", err)
		}
		bundles, err := workloadapi.FetchJWTBundles(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jwtsvid.ParseAndValidate(svid.Marshal(), bundles, []string{"echo"}); err != nil {
			t.Fatalf("the JWT-SVID does not validate against the agent's JWT bundle: %v", err)
		}
		b, err := bundles.GetJWTBundleForTrustDomain(td)
		if err != nil {
			t.Fatal(err)
		}
		for _, kid := range env.jwtKIDs(t) {
			if _, ok := b.FindJWTAuthority(kid); !ok {
				t.Fatalf("the agent's JWT bundle lacks SPIRE's key %s", kid)
			}
		}
		if svid.ID.String() != clientID {
			t.Fatalf("the JWT-SVID is for %s, want %s", svid.ID, clientID)
		}
	})

	t.Run("the status API says SPIRE issued the certificates and roots", func(t *testing.T) {
		type certs struct {
			Certificates []struct {
				Workload, SPIFFEID, Serial, Issuer string
			} `json:"certificates"`
			Roots []struct {
				Source string `json:"source"`
			} `json:"roots"`
		}
		// The control plane sees a SPIRE SVID when the agent registers
		// with it, which it does again as soon as SPIRE rotates it.
		var res certs
		deadline := time.Now().Add(15 * time.Second)
		for {
			res = certs{}
			if err := json.Unmarshal([]byte(cp.ctlStdout(t, "certs", "-o", "json")), &res); err != nil {
				t.Fatal(err)
			}
			seen := slices.ContainsFunc(res.Certificates, func(c struct{ Workload, SPIFFEID, Serial, Issuer string }) bool {
				return c.Workload == "echo-v1" && c.Issuer != "" && c.Serial == echo.SerialHex(agentS.leafOrNil())
			})
			if seen {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("/v1/certificates does not show echo-v1's current SPIRE SVID %s: %+v", echo.SerialHex(agentS.leafOrNil()), res.Certificates)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if len(res.Roots) != len(env.roots(t)) || res.Roots[0].Source != "spire" {
			t.Fatalf("/v1/certificates roots are not SPIRE's: %+v", res.Roots)
		}
	})
}

// chainsTo says whether leaf verifies against roots.
func chainsTo(leaf *x509.Certificate, roots []*x509.Certificate) bool {
	if leaf == nil {
		return false
	}
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err == nil
}
