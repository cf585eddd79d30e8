package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"

	"embassy.dev/embassy/internal/grpctest"
	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/controlplane"
	"embassy.dev/embassy/pkg/rollout"
)

// How a rawProxy answers.
type answering int

const (
	acking answering = iota
	// nacking rejects every response.
	nacking
	// holding acks the first response and answers none after it, as a
	// proxy that is stuck applying its configuration.
	holding
)

// rawProxy is an ADS client that asks for every cluster and answers each
// response as mode says, until the test ends.
func rawProxy(t *testing.T, addr, id string, mode answering) {
	t.Helper()
	conn := grpctest.Dial(t, addr)
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	node := &core.Node{Id: id}
	if err := stream.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: resourcev3.ClusterType}); err != nil {
		t.Fatal(err)
	}
	go func() {
		accepted := ""
		for n := 0; ; n++ {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			if mode == holding && n > 0 {
				continue
			}
			req := &discovery.DiscoveryRequest{Node: node, TypeUrl: resp.GetTypeUrl(), ResponseNonce: resp.GetNonce(), VersionInfo: resp.GetVersionInfo()}
			if mode == nacking {
				req.VersionInfo = accepted
				req.ErrorDetail = &rpcstatus.Status{Code: 3, Message: "cluster rejected by " + id}
			} else {
				accepted = resp.GetVersionInfo()
			}
			if stream.Send(req) != nil {
				return
			}
		}
	}()
}

// startControlPlane starts a control plane on a memory store with
// plaintext xDS, changed by mut, and returns it with its data dir's admin
// token file.
func startControlPlane(t *testing.T, mut ...func(*controlplane.Config)) (*controlplane.ControlPlane, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := controlplane.Config{
		DataDir: dir, Store: "memory", XDSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0",
		InsecureXDS: true, Debounce: 5 * time.Millisecond,
	}
	for _, m := range mut {
		m(&cfg)
	}
	cp, err := controlplane.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cp.Close() })
	return cp, filepath.Join(dir, "admin-token")
}

// waitConnected waits until the proxies have acked or nacked their first
// clusters, so the next apply's push is what they answer.
func waitConnected(t *testing.T, cp *controlplane.ControlPlane, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		answered := 0
		for _, p := range cp.XDS().Proxies() {
			if ts := p.Types[resourcev3.ClusterType]; ts.VersionAcked != "" || ts.LastNack != nil {
				answered++
			}
		}
		if answered == n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("proxies did not answer their first clusters: %+v", cp.XDS().Proxies())
}

// connectProxies connects a raw proxy of each id in acks, and of each
// id in nacks one that rejects every response, for as long as the test
// runs, and waits until all have answered their first clusters.
func connectProxies(t *testing.T, cp *controlplane.ControlPlane, acks, nacks []string) {
	t.Helper()
	for _, id := range acks {
		rawProxy(t, cp.XDSAddr(), id, acking)
	}
	for _, id := range nacks {
		rawProxy(t, cp.XDSAddr(), id, nacking)
	}
	waitConnected(t, cp, len(acks)+len(nacks))
}

// echoFile writes meshtest.ServiceEcho to a file and returns its path.
func echoFile(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "echo.yaml")
	if err := os.WriteFile(f, []byte(meshtest.ServiceEcho), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func runCtl(t *testing.T, cp *controlplane.ControlPlane, tokenFile string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut strings.Builder
	code := run(context.Background(), append([]string{"--server", "http://" + cp.APIAddr(), "--token-file", tokenFile}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestApplyWaitSucceedsWhenEveryProxyAcks(t *testing.T) {
	cp, tokenFile := startControlPlane(t)
	connectProxies(t, cp, []string{"a.default", "b.default"}, nil)

	f := echoFile(t)
	code, out, errOut := runCtl(t, cp, tokenFile, "apply", "-f", f, "--wait", "--timeout", "10s")
	if code != 0 || !strings.Contains(out, "2 proxies acknowledged it in") {
		t.Fatalf("apply --wait: exit %d\n%s%s", code, out, errOut)
	}
	// The change id is c-<revision>; ask the API what it recorded.
	id := rollout.ChangeID(cp.Store().Revision())
	token, _ := os.ReadFile(tokenFile)
	req, _ := http.NewRequest(http.MethodGet, "http://"+cp.APIAddr()+"/v1/changes/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ch rollout.Change
	if err := json.NewDecoder(resp.Body).Decode(&ch); err != nil {
		t.Fatal(err)
	}
	if ch.State != rollout.Converged || len(ch.Proxies) != 2 || ch.ConvergedAt.IsZero() || ch.ConvergenceSeconds < 0 || ch.Proxies[0].Types[0].TypeURL != resourcev3.ClusterType {
		t.Fatalf("change %+v", ch)
	}
}

func TestApplyWaitFailsNamingTheProxyThatNacks(t *testing.T) {
	cp, tokenFile := startControlPlane(t)
	connectProxies(t, cp, []string{"good.default"}, []string{"bad.default"})

	f := echoFile(t)
	code, out, errOut := runCtl(t, cp, tokenFile, "apply", "-f", f, "--wait", "--timeout", "10s")
	if code != 1 || !strings.Contains(errOut, "rejected by bad.default (cluster rejected by bad.default)") || strings.Contains(errOut, "good.default") {
		t.Fatalf("apply --wait: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "service/default/echo created") {
		t.Fatalf("the apply itself is still reported: %s", out)
	}
}

// TestApplyWaitWithNoProxyConnectedSaysSo applies with --wait while no
// proxy is connected: the command must say no proxy was affected, not
// that 0 proxies acknowledged it in 0.000s.
func TestApplyWaitWithNoProxyConnectedSaysSo(t *testing.T) {
	cp, tokenFile := startControlPlane(t)
	f := echoFile(t)
	code, out, errOut := runCtl(t, cp, tokenFile, "apply", "-f", f, "--wait", "--timeout", "10s")
	if code != 0 || !strings.Contains(out, "no connected proxy is affected by it") || strings.Contains(out, "0 proxies") {
		t.Fatalf("apply --wait: exit %d\n%s%s", code, out, errOut)
	}
}
