package server

import (
	"context"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/cache/cachetest"
)

// allowHeader stands in for a peer's identity in these tests: the
// authorizer allows a stream only for the node the header names, which
// also shows that it is given the stream's own context.
const allowHeader = "x-test-allow-node"

func headerAuthorizer(ctx context.Context, node *core.Node) error {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(allowHeader); len(v) == 1 && v[0] == node.GetId() {
		return nil
	}
	return status.Errorf(codes.PermissionDenied, "node %q is not yours", node.GetId())
}

// startAuthorized is start with an authorizer.
func startAuthorized(t *testing.T, authz Authorizer) *harness {
	t.Helper()
	fake := cachetest.New()
	h := startWith(t, Config{Translator: fake, Debounce: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond, Authorizer: authz})
	h.fake = fake
	h.srv.Update(mesh.New(1, nil))
	poll.Until(t, "push of the revision", func() bool { return h.srv.Stats().Revision == 1 })
	return h
}

func asNode(ctx context.Context, id string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, allowHeader, id)
}

func TestAuthorizerRefusesAStreamForAnotherNode(t *testing.T) {
	h := startAuthorized(t, headerAuthorizer)
	ctx, _ := streamContext(t)

	sotw, err := h.ads.StreamAggregatedResources(asNode(ctx, "a.default"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sotw.Send(&discovery.DiscoveryRequest{TypeUrl: resourcev3.ClusterType, Node: cachetest.EnvoyNode("b.default")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sotw.Recv(); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("SotW stream for another node: got %v, want PermissionDenied", err)
	}

	delta, err := h.ads.DeltaAggregatedResources(asNode(ctx, "a.default"))
	if err != nil {
		t.Fatal(err)
	}
	if err := delta.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: resourcev3.ClusterType, Node: cachetest.EnvoyNode("b.default")}); err != nil {
		t.Fatal(err)
	}
	if _, err := delta.Recv(); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("delta stream for another node: got %v, want PermissionDenied", err)
	}
	if _, ok := h.proxy("b.default"); ok {
		t.Fatal("a refused node was registered as a connected proxy")
	}
}

func TestAuthorizerServesTheOwnNodeAndRefusesASwitch(t *testing.T) {
	h := startAuthorized(t, headerAuthorizer)
	ctx, _ := streamContext(t)
	stream, err := h.ads.StreamAggregatedResources(asNode(ctx, "web.default"))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&discovery.DiscoveryRequest{TypeUrl: resourcev3.ClusterType, Node: cachetest.EnvoyNode("web.default")}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("own node: %v", err)
	}
	if len(resp.GetResources()) == 0 {
		t.Fatal("own node: an empty cluster response")
	}
	// The same stream now names another node: go-control-plane would watch
	// that node's snapshot, so the stream must end instead.
	if err := stream.Send(&discovery.DiscoveryRequest{TypeUrl: resourcev3.ListenerType, Node: cachetest.EnvoyNode("db.default")}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		resp, err := stream.Recv()
		if err != nil {
			if status.Code(err) != codes.PermissionDenied {
				t.Fatalf("switching nodes: got %v, want PermissionDenied", err)
			}
			return
		}
		if resp.GetTypeUrl() == resourcev3.ListenerType {
			t.Fatal("a stream that switched nodes was served the other node's listeners")
		}
	}
	t.Fatal("the stream that switched nodes was not ended")
}
