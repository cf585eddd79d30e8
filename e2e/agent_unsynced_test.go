package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"embassy.dev/embassy/internal/nettest"
	"embassy.dev/embassy/pkg/client"
)

// unsyncedMesh is Service web, whose policy denies POST, and Service
// plain, which no policy targets.
const unsyncedMesh = `apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: web}
spec:
  ports: [{name: http, port: 8080, protocol: http}]
---
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: plain}
spec:
  ports: [{name: http, port: 8080, protocol: http}]
---
apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: get-only}
spec:
  targets: {services: [web]}
  modules:
  - name: authz.rego
    rego: |
      package envoy.authz
      default allow := false
      allow if input.attributes.request.http.method == "GET"
`

// lastPush is the revision of embassy-cp's last push, and whether it has
// pushed the store's current revision.
func lastPush(t *testing.T, c *client.Client) (rev int64, settled bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.LastPush == nil {
		return 0, false
	}
	return st.LastPush.Revision, st.LastPush.Revision == st.Store.Revision
}

// firstChecks sends POST Checks to an agent's --authz-addr from the
// moment it answers until one is allowed or loaded reports true (within
// 20s and 2000 calls), and reports for each whether it was asked before
// embassy-cp's first push after pushed.
func firstChecks(t *testing.T, c *client.Client, pushed int64, addr string, loaded func() bool) (resps []*authv3.CheckResponse, beforePush []bool) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	authz := authv3.NewAuthorizationClient(conn)
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "POST", Path: "/", Host: "web", Headers: map[string]string{":method": "POST", ":path": "/"}},
	}}}
	deadline := time.Now().Add(20 * time.Second)
	for range 2000 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := authz.Check(ctx, req)
		cancel()
		// Read after the answer: a push that lands while the Check is in
		// flight then counts it as after the push, never before.
		rev, _ := lastPush(t, c)
		switch {
		case err != nil && len(resps) == 0 && time.Now().Before(deadline):
			time.Sleep(5 * time.Millisecond) // not listening yet
			continue
		case err != nil:
			t.Fatalf("Check: %v", err)
		}
		resps, beforePush = append(resps, resp), append(beforePush, rev == pushed)
		if resp.GetStatus().GetCode() == int32(code.Code_OK) || loaded() || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return resps, beforePush
}

// TestNewAgentDeniesBeforeItsPolicySet runs embassy-cp with a 3s push
// debounce held for every change, so a new agent's registration reaches its policy stream a
// few seconds after the agent serves ext_authz. In that window every Check is
// denied with a reason that says the policy set has not arrived: a
// request the policy denies is never allowed, and for a workload no
// policy targets the first allow comes only after the push.
func TestNewAgentDeniesBeforeItsPolicySet(t *testing.T) {
	dir := t.TempDir()
	p := start(t, "embassy-cp", "--data-dir", filepath.Join(dir, "cp"), "--xds-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0",
		"--trust-domain", "example.org", "--debounce", "3s", "--debounce-every")
	m := p.waitFor(servingRE, 20*time.Second)
	cp := &controlPlane{proc: p, dataDir: filepath.Join(dir, "cp"), xds: m[1], api: m[2]}
	cp.mustCtl(t, "apply", "-f", writeFile(t, dir, "mesh.yaml", unsyncedMesh))
	bundle := writeFile(t, dir, "bundle.pem", cp.mustCtl(t, "bundle"))
	admin, err := os.ReadFile(filepath.Join(cp.dataDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	c := client.New("http://"+cp.api, strings.TrimSpace(string(admin)))

	for _, svc := range []string{"web", "plain"} {
		t.Run(svc, func(t *testing.T) {
			var pushed int64
			for range 200 {
				var settled bool
				if pushed, settled = lastPush(t, c); settled {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			addr := nettest.FreeAddr(t)
			a := startAgent(t, cp, bundle, svc+"-1", svc, "--address", "127.0.0.1", "--service", svc, "--port", "http=8080", "--authz-addr", addr)
			// web's policy denies every POST, so its Checks end once the
			// agent says the set is loaded; plain's end at the first allow,
			// which may follow that log line by a moment.
			stop := func() bool { return svc == "web" && strings.Contains(a.output(), "policies loaded") }
			resps, before := firstChecks(t, c, pushed, addr, stop)

			asked := 0
			for i, r := range resps {
				allowed := r.GetStatus().GetCode() == int32(code.Code_OK)
				switch {
				case allowed && svc == "web":
					t.Fatalf("Check %d: a POST was allowed, which the policy denies:\n%s", i+1, a.output())
				case before[i] && (allowed || !strings.Contains(r.GetStatus().GetMessage(), "no authorization policy set received")):
					t.Fatalf("Check %d, before embassy-cp pushed %s's registration: %v, want the deny saying no policy set arrived:\n%s", i+1, a.name, r.GetStatus(), a.output())
				}
				if before[i] {
					asked++
				}
			}
			if asked == 0 {
				t.Fatalf("no Check was answered before the push of the registration:\n%s", a.output())
			}
			if svc == "plain" && resps[len(resps)-1].GetStatus().GetCode() != int32(code.Code_OK) {
				t.Fatalf("the agent of a workload no policy targets never allowed: %v", resps[len(resps)-1].GetStatus())
			}
			if !strings.Contains(a.output(), "no authorization policy set received") {
				t.Fatalf("the decision log does not say why it denied:\n%s", a.output())
			}
			t.Logf("%s: %d Checks denied before the policy set arrived", svc, asked)
		})
	}
}
