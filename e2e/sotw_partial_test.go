package e2e

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"embassy.dev/embassy/internal/grpctest"
	"embassy.dev/embassy/internal/nettest"
	"embassy.dev/embassy/xds/cache"
)

// relayed is one response the relay passed to the client.
type relayed struct {
	typeURL string
	names   []string
	bytes   int
}

// adsRelay passes a proxyless client's ADS stream through to the control
// plane and records every response, so a test sees exactly what the
// client was sent.
type adsRelay struct {
	discovery.UnimplementedAggregatedDiscoveryServiceServer
	upstream discovery.AggregatedDiscoveryServiceClient

	mu   sync.Mutex
	seen []relayed
}

// startRelay serves a relay to the control plane at xds on a free
// loopback port and returns it with its address.
func startRelay(t *testing.T, xds string) (*adsRelay, string) {
	t.Helper()
	r := &adsRelay{upstream: discovery.NewAggregatedDiscoveryServiceClient(grpctest.Dial(t, xds))}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	discovery.RegisterAggregatedDiscoveryServiceServer(g, r)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	return r, lis.Addr().String()
}

// StreamAggregatedResources relays one stream both ways.
func (r *adsRelay) StreamAggregatedResources(down discovery.AggregatedDiscoveryService_StreamAggregatedResourcesServer) error {
	up, err := r.upstream.StreamAggregatedResources(down.Context())
	if err != nil {
		return err
	}
	go func() {
		for {
			req, err := down.Recv()
			if err != nil {
				_ = up.CloseSend()
				return
			}
			if up.Send(req) != nil {
				return
			}
		}
	}()
	for {
		resp, err := up.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		rec := relayed{typeURL: resp.GetTypeUrl(), bytes: proto.Size(resp)}
		for _, a := range resp.GetResources() {
			rec.names = append(rec.names, cache.ResourceName(a))
		}
		r.mu.Lock()
		r.seen = append(r.seen, rec)
		r.mu.Unlock()
		if err := down.Send(resp); err != nil {
			return err
		}
	}
}

// since returns the responses of typeURL recorded after the first n.
func (r *adsRelay) since(n int, typeURL string) (out []relayed, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.seen[n:] {
		if s.typeURL == typeURL {
			out = append(out, s)
		}
	}
	return out, len(r.seen)
}

// TestSotWEndpointChangeSendsOneLoadAssignment drives gRPC's own xDS
// client, whose state-of-the-world stream passes through a recording
// relay: a change to the endpoints of one of the two clusters it routes
// to sends it that cluster's ClusterLoadAssignment alone, and it keeps
// the other one, since calls go on reaching both subsets without errors.
func TestSotWEndpointChangeSendsOneLoadAssignment(t *testing.T) {
	dir := t.TempDir()
	cp := startCP(t, dir+"/data", nettest.FreeAddr(t), nettest.FreeAddr(t))
	v1, v2a, v2b := nettest.FreeAddr(t), nettest.FreeAddr(t), nettest.FreeAddr(t)
	start(t, "echo-server", "--addr", v1, "--name", "v1").waitFor(reListening, 10*time.Second)
	start(t, "echo-server", "--addr", v2a, "--name", "v2").waitFor(reListening, 10*time.Second)
	start(t, "echo-server", "--addr", v2b, "--name", "v2").waitFor(reListening, 10*time.Second)
	cp.mustCtl(t, "apply", "-f", writeFile(t, dir, "mesh.yaml", fmt.Sprintf(echoMesh, portOf(t, v1), portOf(t, v2a), portOf(t, v2b))))
	cp.mustCtl(t, "apply", "-f", writeFile(t, dir, "route.yaml", fmt.Sprintf(routeSplit, 50, 50)))
	// The mesh alone is pushed at once and the route a moment later: a
	// client started between them would first hold the unsplit cluster's
	// load assignment too.
	cp.waitPushed(t)

	relay, relayAddr := startRelay(t, cp.xds)
	boot := writeFile(t, dir, "bootstrap.json", cp.mustCtl(t, "bootstrap", "grpc", "--workload", "echo-client.default", "--xds-address", relayAddr))
	next := intervals(t, boot, 20*time.Second)
	bothSubsets := func(what string) {
		t.Helper()
		for i := 0; ; i++ {
			s := next()
			if s.Errors == 0 && s.ByBackend["v1"] > 0 && s.ByBackend["v2"] > 0 {
				return
			}
			if i > 40 {
				t.Fatalf("%s: calls do not reach both subsets without errors: %+v", what, s)
			}
		}
	}
	bothSubsets("before the change")

	// The client subscribes to each subset's load assignment as it learns
	// of its cluster, and is sent each as it subscribes.
	before, mark := relay.since(0, resourcev3.EndpointType)
	held := map[string]bool{}
	for _, r := range before {
		for _, n := range r.names {
			held[n] = true
		}
	}
	if len(held) != 2 {
		t.Fatalf("the client was sent %v, want both subsets' load assignments", before)
	}
	cp.mustCtl(t, "delete", "workload", "echo-v2b", "-n", "default")

	var after []relayed
	for i := 0; len(after) == 0; i++ {
		if i > 50 {
			t.Fatal("no load assignment was sent within 5s of the workload's deletion")
		}
		next()
		after, _ = relay.since(mark, resourcev3.EndpointType)
	}
	for _, r := range after {
		if len(r.names) != 1 {
			t.Fatalf("an endpoint change of one subset sent %v, want that subset's load assignment alone", r.names)
		}
		t.Logf("endpoint change: one response of %d bytes (%v)", r.bytes, r.names)
	}
	// Three workloads' endpoints went to two; the client held the other
	// subset's load assignment without being sent it again.
	bothSubsets("after the change")
	for range 5 {
		if s := next(); s.Errors != 0 || s.ByBackend["v1"] == 0 || s.ByBackend["v2"] == 0 {
			t.Fatalf("after the change calls failed or missed a subset: %+v", s)
		}
	}
}
