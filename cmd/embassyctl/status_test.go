package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"sigs.k8s.io/yaml"

	"embassy.dev/embassy/internal/grpctest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/store"
	"embassy.dev/embassy/xds/cache/cachetest"
	xdsserver "embassy.dev/embassy/xds/server"
)

// liveEnv is a real xDS server on loopback with the API over it, and a
// read token file for embassyctl.
type liveEnv struct {
	url, tokenFile string
	bus            *events.Bus
	ads            discovery.AggregatedDiscoveryServiceClient
}

func newLiveEnv(t *testing.T) *liveEnv {
	t.Helper()
	bus := events.New(50)
	srv := xdsserver.New(xdsserver.Config{Translator: cachetest.New(), Debounce: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond, Events: bus})
	t.Cleanup(srv.Close) // after the gRPC server has stopped
	conn := grpctest.Serve(t, srv.Register)
	hs := httptest.NewServer(api.NewHandler(api.Options{Store: store.NewMemory(), Proxies: srv, Config: srv, AdminToken: "admin", ReadTokens: []string{"reader"}, Events: bus}))
	t.Cleanup(hs.Close)
	srv.Update(mesh.New(1, nil))
	poll.Until(t, "the first push", func() bool { return srv.Stats().Revision == 1 })
	tokenFile := filepath.Join(t.TempDir(), "read-token")
	if err := os.WriteFile(tokenFile, []byte("reader\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &liveEnv{url: hs.URL, tokenFile: tokenFile, bus: bus, ads: discovery.NewAggregatedDiscoveryServiceClient(conn)}
}

func (e *liveEnv) run(ctx context.Context, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(ctx, append([]string{"--server", e.url, "--token-file", e.tokenFile}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestProxyStatusShowsANackFromARealStream(t *testing.T) {
	e := newLiveEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := e.ads.StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&discovery.DiscoveryRequest{Node: &core.Node{Id: "web.default", UserAgentName: "envoy"}, TypeUrl: resourcev3.ClusterType}); err != nil {
		t.Fatal(err)
	}
	resp, err := s.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := e.run(ctx, "proxy-status", "--check"); code != 0 {
		t.Fatalf("--check before the NACK: exit %d: %s", code, errOut)
	}
	if err := s.Send(&discovery.DiscoveryRequest{TypeUrl: resourcev3.ClusterType, ResponseNonce: resp.GetNonce(),
		ErrorDetail: &rpcstatus.Status{Code: 3, Message: "cluster web: unknown lb policy"}}); err != nil {
		t.Fatal(err)
	}
	var out string
	for deadline := time.Now().Add(time.Second); ; {
		_, out, _ = e.run(ctx, "proxy-status")
		if strings.Contains(out, "NACKED") || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[1]), " ") != "web.default envoy sotw NACKED NOT_SENT NOT_SENT NOT_SENT -" {
		t.Fatalf("proxy-status after the NACK:\n%s", out)
	}
	if strings.Contains(out, "\x1b[") {
		t.Fatal("colour written to a buffer that is not a terminal")
	}

	code, _, errOut := e.run(ctx, "proxy-status", "--check")
	if code != 1 || !strings.Contains(errOut, "web.default CDS NACKED") {
		t.Fatalf("--check after the NACK: exit %d: %s", code, errOut)
	}
	code, out, _ = e.run(ctx, "proxy-status", "-o", "yaml", "--state", "NACKED")
	var doc struct {
		Proxies []struct {
			ID    string `json:"id"`
			Types map[string]struct {
				SyncState string `json:"syncState"`
				LastNack  struct {
					Message string `json:"message"`
				} `json:"lastNack"`
			} `json:"types"`
		} `json:"proxies"`
	}
	if code != 0 || yaml.Unmarshal([]byte(out), &doc) != nil || len(doc.Proxies) != 1 ||
		doc.Proxies[0].Types[resourcev3.ClusterType].LastNack.Message != "cluster web: unknown lb policy" ||
		doc.Proxies[0].Types[resourcev3.ClusterType].SyncState != "NACKED" {
		t.Fatalf("-o yaml: exit %d\n%s", code, out)
	}

	code, out, _ = e.run(ctx, "events")
	if code != 0 || !strings.Contains(out, "nack") || !strings.Contains(out, "web.default "+resourcev3.ClusterType+": cluster web: unknown lb policy") {
		t.Fatalf("events: exit %d\n%s", code, out)
	}
}

func TestEventsFollowPrintsLiveEvents(t *testing.T) {
	e := newLiveEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, w := io.Pipe()
	done := make(chan int, 1)
	go func() {
		var errOut bytes.Buffer
		done <- run(ctx, []string{"--server", e.url, "--token-file", e.tokenFile, "events", "-f", "-o", "json"}, w, &errOut)
		w.Close()
	}()
	// Publish until the follower prints one: it may subscribe after the
	// first publish.
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case line := <-lines:
			if !strings.Contains(line, `"kind":"rotation"`) {
				t.Fatalf("followed line %q", line)
			}
			cancel()
			if code := <-done; code != 0 {
				t.Fatalf("events -f ended with exit %d", code)
			}
			return
		case <-tick.C:
			e.bus.Publish(events.Event{Kind: events.KindRotation, Message: "new root"})
		case <-ctx.Done():
			t.Fatal("no followed event within 10s")
		}
	}
}

func TestStatusCommand(t *testing.T) {
	e := newLiveEnv(t)
	code, out, errOut := e.run(context.Background(), "status")
	if code != 0 || !strings.Contains(out, "Version:") || !strings.Contains(out, "Store:") || !strings.Contains(out, "memory at revision 0") {
		t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
	}
}
