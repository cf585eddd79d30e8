package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"embassy.dev/embassy/pkg/controlplane"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/identity/client"
	"embassy.dev/embassy/pkg/resource"

	"embassy.dev/embassy/internal/applytest"
	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/internal/syncbuf"
)

// methodPolicy is an AuthorizationPolicy on service web allowing method.
func methodPolicy(method string) string {
	return meshtest.ServiceWebShop + `---
apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: methods, namespace: shop}
spec:
  targets: {services: [web]}
  modules:
  - name: authz.rego
    rego: |
      package envoy.authz
      default allow := false
      allow if input.attributes.request.http.method == "` + method + `"
`
}

// The agent, attested with a join token against the real control plane,
// streams the policy applied through pkg/apply over mTLS, enforces it on
// authz.sock, and the control plane records the ACK of each revision.
func TestAgentEnforcesTheControlPlanesPolicies(t *testing.T) {
	logs := &syncbuf.Buffer{}
	cp := startPolicyCP(t, 5*time.Millisecond, methodPolicy("GET"), logs)
	a, dir := runPolicyAgent(t, cp, "web", "127.0.0.1:0", logs)
	select {
	case <-a.Serving():
	case <-time.After(10 * time.Second):
		t.Fatalf("the agent did not serve within 10s:\n%s", logs)
	}
	authz := authzClient(t, dir)

	// Once registered, web-1 is targeted: GET passes, POST is denied.
	rev := waitRevision(t, a, logs, "")
	if c, _ := check(t, authz, "GET", "/"); c != codeOK {
		t.Errorf("GET: code %d, want OK", c)
	}
	if c, status := check(t, authz, "POST", "/"); c != codeDenied || status != 403 {
		t.Errorf("POST: code %d status %d, want a 403 deny", c, status)
	}
	waitAcked(t, cp, logs, rev)

	// A new revision reaches the agent and is ACKed.
	applyDocs(t, cp, methodPolicy("POST"))
	rev2 := waitRevision(t, a, logs, rev)
	if c, _ := check(t, authz, "POST", "/"); c != codeOK {
		t.Errorf("revision 2, POST: code %d, want OK", c)
	}
	if c, _ := check(t, authz, "GET", "/"); c != codeDenied {
		t.Errorf("revision 2, GET: code %d, want a deny", c)
	}
	waitAcked(t, cp, logs, rev2)

	// --authz-addr serves the same decisions on a loopback port.
	_, loopback, found := strings.Cut(logs.String(), "serving ext_authz on "+filepath.Join(dir, dataplane.AuthzSocket)+" and ")
	loopback, _, _ = strings.Cut(loopback, "\n")
	if !found || !strings.HasPrefix(loopback, "127.0.0.1:") {
		t.Fatalf("no loopback address announced:\n%s", logs)
	}
	conn, err := grpc.NewClient(loopback, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if c, _ := check(t, authv3.NewAuthorizationClient(conn), "GET", "/"); c != codeDenied {
		t.Errorf("loopback, revision 2, GET: code %d, want a deny", c)
	}
}

// startPolicyCP starts the real control plane with the given push
// debounce, held for every change, and applies docs.
func startPolicyCP(t *testing.T, debounce time.Duration, docs string, logs *syncbuf.Buffer) *controlplane.ControlPlane {
	t.Helper()
	cp, err := controlplane.Start(context.Background(), controlplane.Config{
		DataDir: t.TempDir(), Store: "memory", XDSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0",
		Debounce: debounce, DebounceEvery: true,
		Logger: hclog.New(&hclog.LoggerOptions{Name: "embassy-cp", Level: hclog.Debug, Output: logs}),
		Out:    logs,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cp.Close() })
	applyDocs(t, cp, docs)
	return cp
}

// runPolicyAgent runs an agent of workload web-1.shop backing service
// svc against cp, serving Check on loopback too when loopback is set, and
// returns its socket directory once Run is under way; it does not wait
// for anything to be served.
func runPolicyAgent(t *testing.T, cp *controlplane.ControlPlane, svc, loopback string, logs *syncbuf.Buffer) (*Agent, string) {
	t.Helper()
	cfg := web1Config(t, cp, logs)
	cfg.Spec = resource.WorkloadSpec{Address: "127.0.0.1", Services: []string{svc}, Ports: []resource.WorkloadPort{{Name: "http", Port: 8080}}}
	cfg.RegisterInterval = 100 * time.Millisecond
	cfg.Authz = &AuthzConfig{XDSAddress: cp.XDSAddr(), LoopbackAddr: loopback}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runAgent(t, a)
	return a, cfg.SocketDir
}

// web1Config is the configuration of an agent of workload web-1.shop
// against cp, attesting with a new single-use token, in a new socket
// directory, logging to logs.
func web1Config(t *testing.T, cp *controlplane.ControlPlane, logs *syncbuf.Buffer) Config {
	t.Helper()
	token, _, err := cp.Tokens().Create("shop", "web", "web-1", time.Hour, true)
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		SocketDir: shortTempDir(t), Token: token, Workload: "web-1.shop",
		Dial: func(roots []*x509.Certificate, cert func() *tls.Certificate) (ControlPlaneConn, error) {
			return client.Dial(cp.XDSAddr(), roots, cert)
		},
		TrustBundle: cp.CA().Bundle(),
		Out:         logs,
		Logger:      hclog.New(&hclog.LoggerOptions{Name: "embassy-agent", Level: hclog.Debug, Output: logs}),
		MinBackoff:  50 * time.Millisecond, MaxBackoff: time.Second,
	}
}

func applyDocs(t *testing.T, cp *controlplane.ControlPlane, doc string) {
	t.Helper()
	applytest.Apply(t, cp.Store(), doc)
}

// waitRevision waits until shop/methods decides with a revision other
// than old, and returns it.
func waitRevision(t *testing.T, a *Agent, logs *syncbuf.Buffer, old string) string {
	t.Helper()
	var rev string
	poll.UntilState(t, fmt.Sprintf("shop/methods to load a revision other than %q", old), func() (bool, string) {
		revs := a.Authz().Revisions()
		rev = revs["shop/methods"]
		return rev != "" && rev != old, fmt.Sprintf("revisions %v; the log:\n%s", revs, logs)
	})
	return rev
}

// waitAcked waits until the control plane's status shows web-1.shop's
// agent ACKed rev, and never NACKed.
func waitAcked(t *testing.T, cp *controlplane.ControlPlane, logs *syncbuf.Buffer, rev string) {
	t.Helper()
	poll.UntilState(t, "the control plane to see the ACK of revision "+rev, func() (bool, string) {
		for _, p := range cp.XDS().Proxies() {
			ts, ok := p.Types[resourcev3.ExtensionConfigType]
			if p.ID != "web-1.shop" || !ok {
				continue
			}
			if ts.NackCount != 0 {
				t.Fatalf("the agent NACKed: %+v", ts.LastNack)
			}
			if ts.VersionAcked == rev {
				if !strings.HasSuffix(p.Identity, "/ns/shop/sa/web") {
					t.Errorf("the stream's identity is %q, want the workload's SVID", p.Identity)
				}
				return true, ""
			}
			return false, fmt.Sprintf("web-1.shop ACKed %q; the log:\n%s", ts.VersionAcked, logs)
		}
		return false, fmt.Sprintf("web-1.shop has asked for no policies; the log:\n%s", logs)
	})
}
