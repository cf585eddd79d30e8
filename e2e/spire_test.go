package e2e

import (
	"context"
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
	"embassy.dev/embassy/internal/workloadapitest"
	"embassy.dev/embassy/pkg/identity"
)

// spireMeshDoc is a STRICT mesh whose CA is SPIRE, at the control plane's
// node's socket %s.
const spireMeshDoc = `apiVersion: embassy.dev/v1alpha1
kind: Mesh
metadata: {name: default}
spec:
  trustDomain: example.org
  mtls: {mode: STRICT}
  ca: {type: spire, socketPath: %s}
---
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  ports: [{name: grpc, port: 50051, protocol: grpc}]
`

// startSPIREAgent starts embassy-agent for name.default taking its SVIDs
// from the Workload API at socket (no join token, no --trust-bundle) and
// waits for its PEM files.
func startSPIREAgent(t *testing.T, cp *controlPlane, socket, name string, args ...string) *meshAgent {
	t.Helper()
	dir, err := os.MkdirTemp("", "emb-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	args = append([]string{"--cp", cp.xds, "--spire-socket", socket, "--workload", name + ".default",
		"--socket-dir", filepath.Join(dir, "sock")}, args...)
	a := &meshAgent{proc: start(t, "embassy-agent", args...), name: name, dir: filepath.Join(dir, "sock")}
	deadline := time.Now().Add(15 * time.Second)
	for a.leafOrNil() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the agent of %s wrote no SVID within 15s:\n%s", name, a.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return a
}

// TestSPIREMeshProxyless runs a mesh whose CA is SPIRE end to end. A
// SPIFFE Workload API stand-in in this process, with a CA of its own,
// plays each node's SPIRE agent: embassy-cp takes its xDS certificate
// from it (--spire-socket), each embassy-agent its workload's SVID (no
// join token), and proxyless echo servers and a client call each other
// over STRICT mTLS on those SVIDs, configured over mTLS xDS.
func TestSPIREMeshProxyless(t *testing.T) {
	dir := t.TempDir()
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
	serve := func(name string, id spiffeid.ID, dns ...string) *workloadapitest.Server {
		s, err := spire.Serve(filepath.Join(sockDir, name+".sock"), id, dns, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	// proxyless gRPC checks the control plane's DNS name, so its SVID
	// carries the one the bootstraps dial (SPIRE entries take -dns).
	cpSPIRE := serve("cp", identity.ControlPlaneID(td), "localhost")
	serverSPIRE := serve("echo-v1", spiffeid.RequireFromPath(td, "/ns/default/sa/echo-server"))
	clientSPIRE := serve("echo-client", spiffeid.RequireFromPath(td, "/ns/default/sa/echo-client"))

	xdsAddr, apiAddr := freePort(t), freePort(t)
	p := start(t, "embassy-cp", "--data-dir", dir+"/data", "--xds-addr", xdsAddr, "--api-addr", apiAddr, "--log-level", "debug",
		"--trust-domain", "example.org", "--spire-socket", cpSPIRE.Path())
	m := p.waitFor(servingRE, 20*time.Second)
	cp := &controlPlane{proc: p, dataDir: dir + "/data", xds: m[1], api: m[2]}
	if !strings.Contains(cp.output(), "SPIRE is the mesh's CA") {
		t.Fatalf("embassy-cp does not say SPIRE is the CA:\n%s", cp.output())
	}
	cp.mustCtl(t, "apply", "-f", writeFile(t, dir, "mesh.yaml", fmt.Sprintf(spireMeshDoc, cpSPIRE.Path())))

	v1Addr := freePort(t)
	agentS := startSPIREAgent(t, cp, serverSPIRE.Path(), "echo-v1", serverWorkload(t, v1Addr, "v1")...)
	agentC := startSPIREAgent(t, cp, clientSPIRE.Path(), "echo-client")
	xdsByName := "localhost:" + portOf(t, cp.xds)
	boot := func(node string, a *meshAgent) string {
		return writeFile(t, dir, node+".json", cp.mustCtl(t, "bootstrap", "grpc", "--workload", node+".default", "--xds-address", xdsByName, "--cert-dir", a.dir))
	}
	start(t, "echo-server", "--xds", "--bootstrap", boot("echo-v1", agentS), "--addr", v1Addr, "--name", "v1").
		waitFor(regexp.MustCompile(`serving mode SERVING`), 20*time.Second)
	clientBoot := boot("echo-client", agentC)

	t.Run("the agents serve SPIRE's SVIDs and registered with them", func(t *testing.T) {
		for _, c := range []struct {
			a *meshAgent
			s *workloadapitest.Server
		}{{agentS, serverSPIRE}, {agentC, clientSPIRE}} {
			if got, want := echo.SerialHex(c.a.leafOrNil()), echo.SerialHex(c.s.Current().Certificates[0]); got != want {
				t.Errorf("the agent of %s serves serial %s, SPIRE issued %s", c.a.name, got, want)
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
		if peer.Security != "tls" || peer.SPIFFEID != clientID || peer.Serial != echo.SerialHex(clientSPIRE.Current().Certificates[0]) {
			t.Fatalf("the server saw %+v, want %s with SPIRE's serial %s over tls", peer, clientID, echo.SerialHex(clientSPIRE.Current().Certificates[0]))
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
		next, err := clientSPIRE.Rotate()
		if err != nil {
			t.Fatal(err)
		}
		want := echo.SerialHex(next.Certificates[0])
		deadline := time.Now().Add(15 * time.Second)
		for echo.SerialHex(agentC.leafOrNil()) != want {
			if time.Now().After(deadline) {
				t.Fatalf("the client's agent still serves %s, SPIRE rotated to %s", echo.SerialHex(agentC.leafOrNil()), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
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
		jwks, err := spire.JWKS()
		if err != nil {
			t.Fatal(err)
		}
		var want struct {
			Keys []struct {
				Kid string `json:"kid"`
			} `json:"keys"`
		}
		if err := json.Unmarshal(jwks, &want); err != nil || len(want.Keys) == 0 {
			t.Fatalf("SPIRE's JWKS %s: %v", jwks, err)
		}
		b, err := bundles.GetJWTBundleForTrustDomain(td)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range want.Keys {
			if _, ok := b.FindJWTAuthority(k.Kid); !ok {
				t.Fatalf("the agent's JWT bundle lacks SPIRE's key %s", k.Kid)
			}
		}
		if svid.ID.String() != clientID {
			t.Fatalf("the JWT-SVID is for %s, want %s", svid.ID, clientID)
		}
	})

	t.Run("the status API says SPIRE issued the certificates and roots", func(t *testing.T) {
		var res struct {
			Certificates []struct {
				Workload, SPIFFEID, Serial, Issuer string
			} `json:"certificates"`
			Roots []struct {
				Source string `json:"source"`
			} `json:"roots"`
		}
		if err := json.Unmarshal([]byte(cp.ctlStdout(t, "certs", "-o", "json")), &res); err != nil {
			t.Fatal(err)
		}
		var server bool
		for _, c := range res.Certificates {
			if c.Workload == "echo-v1" && c.Issuer != "" && c.Serial == echo.SerialHex(serverSPIRE.Current().Certificates[0]) {
				server = true
			}
		}
		if !server {
			t.Fatalf("/v1/certificates does not show echo-v1's SPIRE SVID: %+v", res.Certificates)
		}
		if len(res.Roots) != len(spire.Roots()) || res.Roots[0].Source != "spire" {
			t.Fatalf("/v1/certificates roots are not SPIRE's: %+v", res.Roots)
		}
	})
}
