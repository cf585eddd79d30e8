package server

import (
	"strings"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/xds/cache/cachetest"
)

// TestMalformedNodeIDIsRefusedAtConnect checks the answer to the node ids
// the strict parser refuses although they hold a dot, which were once read
// as some workload of a namespace that cannot exist: a sidecar or agent
// naming one is refused on its first request with the parser's reason, on
// both protocols, and never registered. A dotless id and a proxyless
// client's dotted id are still served.
func TestMalformedNodeIDIsRefusedAtConnect(t *testing.T) {
	h := start(t)
	h.update(t, 1)
	agentMD, _ := structpb.NewStruct(map[string]any{dataplane.FlavourKey: dataplane.FlavourAgent})
	for _, tc := range []struct {
		node *core.Node
		msg  string
	}{
		{cachetest.EnvoyNode("web-1.team.a"), "two DNS labels joined by one dot"},
		{cachetest.EnvoyNode("Web-1.default"), `workload "Web-1" is not a DNS label`},
		{&core.Node{Id: "web_1.default", Metadata: agentMD}, `workload "web_1" is not a DNS label`},
	} {
		ctx, _ := streamContext(t)
		sotw, err := h.ads.StreamAggregatedResources(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := sotw.Send(&discovery.DiscoveryRequest{TypeUrl: resourcev3.ClusterType, Node: tc.node}); err != nil {
			t.Fatal(err)
		}
		_, err = sotw.Recv()
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "--workload") {
			t.Errorf("SotW node %q: got %v, want InvalidArgument saying %q and how to fix it", tc.node.GetId(), err, tc.msg)
		}
		delta, err := h.ads.DeltaAggregatedResources(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := delta.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: resourcev3.ClusterType, Node: tc.node}); err != nil {
			t.Fatal(err)
		}
		if _, err := delta.Recv(); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("delta node %q: got %v, want InvalidArgument saying %q", tc.node.GetId(), err, tc.msg)
		}
		if _, ok := h.proxy(tc.node.GetId()); ok {
			t.Errorf("refused node %q was registered as a connected proxy", tc.node.GetId())
		}
	}
	for _, node := range []*core.Node{cachetest.EnvoyNode("edge-gateway"), {Id: "client.of.shop", UserAgentName: "gRPC Go"}} {
		ctx, _ := streamContext(t)
		sotw, err := h.ads.StreamAggregatedResources(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := sotw.Send(&discovery.DiscoveryRequest{TypeUrl: resourcev3.ClusterType, Node: node}); err != nil {
			t.Fatal(err)
		}
		if _, err := sotw.Recv(); err != nil {
			t.Errorf("node %q: %v, want it served", node.GetId(), err)
		}
	}
}
