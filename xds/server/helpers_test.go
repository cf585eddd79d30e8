package server

import (
	"context"
	"sort"
	"testing"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"embassy.dev/embassy/internal/grpctest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/status"
	"embassy.dev/embassy/xds/cache/cachetest"
)

// fourTypes are the types an Envoy sidecar asks for in these tests.
var fourTypes = []string{resourcev3.ListenerType, resourcev3.RouteType, resourcev3.ClusterType, resourcev3.EndpointType}

// fourTypeNames are the names, sorted, that the fake translator's first
// revision gives an Envoy sidecar of web.default in each of fourTypes.
var fourTypeNames = map[string][]string{
	resourcev3.ListenerType: {"inbound|default", "outbound"},
	resourcev3.RouteType:    {"web"},
	resourcev3.ClusterType:  {"db", "web"},
	resourcev3.EndpointType: {"db", "web"},
}

// harness is an xDS server with a fake translator on a real gRPC server
// listening on loopback.
type harness struct {
	srv  *Server
	fake *cachetest.Translator
	conn *grpc.ClientConn
	ads  discovery.AggregatedDiscoveryServiceClient
}

func start(t *testing.T) *harness {
	t.Helper()
	fake := cachetest.New()
	h := startWith(t, Config{Translator: fake, Debounce: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond})
	h.fake = fake
	return h
}

// startWith is start with cfg, whose Translator need not be a fake.
func startWith(t *testing.T, cfg Config) *harness {
	t.Helper()
	srv := New(cfg)
	t.Cleanup(srv.Close)
	conn := grpctest.ServeWith(t, ServerOptions(), srv.Register)
	return &harness{srv: srv, conn: conn, ads: discovery.NewAggregatedDiscoveryServiceClient(conn)}
}

// sotw opens a SotW ADS stream, bounded by streamContext.
func (h *harness) sotw(t *testing.T) discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient {
	t.Helper()
	ctx, _ := streamContext(t)
	stream, err := h.ads.StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return stream
}

// delta opens a Delta ADS stream, bounded by streamContext.
func (h *harness) delta(t *testing.T) discovery.AggregatedDiscoveryService_DeltaAggregatedResourcesClient {
	t.Helper()
	ctx, _ := streamContext(t)
	stream, err := h.ads.DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return stream
}

// update feeds revision rev and waits until it has been pushed.
func (h *harness) update(t *testing.T, rev int64) {
	t.Helper()
	h.srv.Update(mesh.New(rev, nil))
	poll.Until(t, "push of the revision", func() bool { return h.srv.Stats().Revision == rev })
}

// streamContext bounds a test's streams, so a missing response fails the
// test instead of hanging it.
func streamContext(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx, cancel
}

// proxy returns the status of node id, if connected.
func (h *harness) proxy(id string) (status.Proxy, bool) {
	for _, p := range h.srv.Proxies() {
		if p.ID == id {
			return p, true
		}
	}
	return status.Proxy{}, false
}

// names returns the sorted names of a SotW response's resources.
func names(t *testing.T, resp *discovery.DiscoveryResponse) []string {
	t.Helper()
	var out []string
	for _, a := range resp.GetResources() {
		m, err := anypb.UnmarshalNew(a, proto.UnmarshalOptions{})
		if err != nil {
			t.Fatalf("unpack %s: %v", a.GetTypeUrl(), err)
		}
		out = append(out, cachev3.GetResourceName(m))
	}
	sort.Strings(out)
	return out
}

// deltaNames returns the sorted names of a delta response's resources.
func deltaNames(resp *discovery.DeltaDiscoveryResponse) []string {
	var out []string
	for _, r := range resp.GetResources() {
		out = append(out, r.GetName())
	}
	sort.Strings(out)
	return out
}
