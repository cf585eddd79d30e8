package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"embassy.dev/embassy/internal/nettest"
	"embassy.dev/embassy/pkg/client"
	"embassy.dev/embassy/pkg/spiffe"
)

// dashMesh is the dashboard test's mesh: authzMesh's echo, whose enforced
// policy lets only client-a call it, and web, an HTTP service audited by a
// dry-run policy that would deny every method but GET.
const dashMesh = authzMesh + `---
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: web, namespace: default}
spec:
  ports: [{name: http, port: 8080, protocol: http}]
---
apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: web-audit, namespace: default}
spec:
  targets: {services: [web]}
  mode: dry-run
  modules:
    - name: audit.rego
      rego: |
        package envoy.authz

        default allow := false
        allow if input.attributes.request.http.method == "GET"
`

// nackMessage is what the test's proxy says when it rejects a version.
const nackMessage = "cluster echo: rejected by the dashboard test's proxy"

// dashboardMesh is a running mesh for the dashboard to show.
type dashboardMesh struct {
	cp *controlPlane
	// admin talks to the API with the admin token.
	admin *client.Client
	// readToken is what the operator types into the dashboard.
	readToken string
	// webAuthz is the ext_authz address of web's agent.
	webAuthz string
}

// startDashboardMesh runs embassy-cp (TLS xDS, builtin CA, no anonymous
// reads) with dashMesh, agents for echo, client-a, web and nacker, and
// echo's proxyless server.
func startDashboardMesh(t *testing.T) *dashboardMesh {
	t.Helper()
	dir := t.TempDir()
	cp := startMTLSCP(t, filepath.Join(dir, "data"), "127.0.0.1:0", "127.0.0.1:0", "example.org")
	cp.mustCtl(t, "apply", "-f", writeFile(t, dir, "mesh.yaml", dashMesh+"---\n"+fmt.Sprintf(authzPolicy, allowRule(clientAID))))
	bundle := writeFile(t, dir, "bundle.pem", cp.ctlStdout(t, "bundle"))
	m := &dashboardMesh{cp: cp, admin: client.New("http://"+cp.api, readSecret(t, filepath.Join(cp.dataDir, "admin-token"))),
		readToken: readSecret(t, filepath.Join(cp.dataDir, "read-token")), webAuthz: nettest.FreeAddr(t)}

	echoAddr := nettest.FreeAddr(t)
	agentEcho := startAgent(t, cp, bundle, "echo", "echo", serverWorkload(t, echoAddr, "v1")...)
	startAgent(t, cp, bundle, "client-a", "client-a")
	startAgent(t, cp, bundle, "web", "web", "--address", "127.0.0.1", "--service", "web", "--port", "http=8080", "--authz-addr", m.webAuthz)
	server := start(t, "echo-server", "--xds", "--bootstrap", grpcBootstrap(t, cp, dir, "echo.json", "echo.default", agentEcho.dir),
		"--addr", echoAddr, "--name", "echo")
	server.waitFor(regexp.MustCompile(`serving mode SERVING`), 20*time.Second)
	nacker := startAgent(t, cp, bundle, "nacker", "nacker")
	rejectEverything(t, cp, nacker, "nacker.default")
	return m
}

// rejectEverything connects as an Envoy node over mTLS xDS with the
// agent's SVID, as a sidecar of its workload would, and NACKs every
// Cluster response it gets with nackMessage until the test ends.
func rejectEverything(t *testing.T, cp *controlPlane, a *meshAgent, node string) {
	t.Helper()
	td := spiffeid.RequireTrustDomainFromString("example.org")
	svid, err := x509svid.Load(filepath.Join(a.dir, "svid.pem"), filepath.Join(a.dir, "svid-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots, err := x509bundle.Load(td, filepath.Join(a.dir, "bundle.pem"))
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewTLS(tlsconfig.MTLSClientConfig(svid, roots, spiffe.AuthorizeControlPlane()))
	cc, err := grpc.NewClient(cp.xds, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); cc.Close() })
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := envoyNode(node, false)
	if err := stream.Send(&discovery.DiscoveryRequest{Node: n, TypeUrl: resource.ClusterType}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				return // the test ended
			}
			nack := &discovery.DiscoveryRequest{Node: n, TypeUrl: resp.GetTypeUrl(), ResponseNonce: resp.GetNonce(),
				ErrorDetail: &rpcstatus.Status{Code: int32(codes.InvalidArgument), Message: nackMessage}}
			if stream.Send(nack) != nil {
				return
			}
		}
	}()
}

// causeWouldDeny sends POST Checks to web's agent until its policy set
// has arrived (the agent answers without the "no authorization policy
// set" deny), then calls more, which web-audit, in dry-run, lets through
// and counts as would-deny. It returns how many it sent after the set
// arrived.
func (m *dashboardMesh) causeWouldDeny(t *testing.T) int {
	t.Helper()
	conn, err := grpc.NewClient(m.webAuthz, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	authz := authv3.NewAuthorizationClient(conn)
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "POST", Path: "/orders", Host: "web", Headers: map[string]string{":method": "POST", ":path": "/orders"}},
	}}}
	const after = 3
	sent := 0
	deadline := time.Now().Add(pageTimeout)
	for range 3000 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := authz.Check(ctx, req)
		cancel()
		switch {
		case err == nil && resp.GetStatus().GetCode() == int32(codes.OK):
			if sent++; sent == after {
				return sent
			}
		case time.Now().After(deadline):
			t.Fatalf("web's agent never let a POST through under the dry-run policy: last answer %v, %v", resp.GetStatus(), err)
		default:
			time.Sleep(20 * time.Millisecond) // not listening, or its policy set has not arrived
		}
	}
	t.Fatalf("web's agent let %d POSTs through, want %d", sent, after)
	return sent
}

// awaitWouldDeny waits until web-audit's decisions, as the agent reports
// them (every 10 s), count at least n would-denies.
func (m *dashboardMesh) awaitWouldDeny(t *testing.T, n uint64) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	var last string
	for range 450 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := m.admin.Policies(ctx, "default")
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range res.Policies {
			if p.Name == "web-audit" {
				if p.Decisions.WouldDeny >= n {
					return
				}
				last = fmt.Sprintf("%+v", p.Decisions)
			}
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("web-audit never counted %d would-deny decisions; last counts %s", n, last)
}

// applyLive applies a new Service through the API and returns the
// revision the apply made.
func (m *dashboardMesh) applyLive(t *testing.T, name string) int64 {
	t.Helper()
	doc := fmt.Sprintf("apiVersion: embassy.dev/v1alpha1\nkind: Service\nmetadata: {name: %s, namespace: default}\nspec:\n  ports: [{name: http, port: 8080, protocol: http}]\n", name)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := m.admin.Apply(ctx, []client.File{{Name: name + ".yaml", Content: doc}}, false)
	if err != nil {
		t.Fatal(err)
	}
	return res.Revision
}

// screenshotDir is where the test saves its screenshots:
// $EMBASSY_SCREENSHOTS (make screenshots sets it to docs/screenshots), or
// a directory of the test's own.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("EMBASSY_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// hasNack reports whether the API lists a NACK with nackMessage.
func (m *dashboardMesh) hasNack(t *testing.T) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ps, err := m.admin.Proxies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		for _, ts := range p.Types {
			if ts.LastNack != nil && strings.Contains(ts.LastNack.Message, nackMessage) {
				return true
			}
		}
	}
	return false
}
