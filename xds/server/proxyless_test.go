package server

import (
	"slices"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/xds/cache/cachetest"
)

// gRPC's client asks for listeners by name; the answer must hold exactly
// those, however many more the snapshot has.
func TestProxylessGetsExactlyTheListenersItNames(t *testing.T) {
	h := start(t)
	h.update(t, 1)
	stream := h.sotw(t)
	wanted := []string{cachetest.ProxylessListenerName(1), cachetest.ProxylessListenerName(3)}
	req := &discovery.DiscoveryRequest{
		Node:          &core.Node{Id: "client-1", UserAgentName: "gRPC Go"},
		TypeUrl:       resourcev3.ListenerType,
		ResourceNames: wanted,
	}
	if err := stream.Send(req); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, resp); !slices.Equal(got, wanted) {
		t.Errorf("got listeners %v, want exactly %v", got, wanted)
	}
	if p, ok := h.proxy("client-1"); !ok || p.Flavour != "proxyless" {
		t.Errorf("proxy status = %+v, want a proxyless node", p)
	}
}

func TestDisconnectRemovesTheProxy(t *testing.T) {
	h := start(t)
	h.update(t, 1)
	ctx, cancel := streamContext(t)
	stream, err := h.ads.StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&discovery.DiscoveryRequest{Node: cachetest.EnvoyNode("web.default"), TypeUrl: resourcev3.ClusterType}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.proxy("web.default"); !ok {
		t.Fatalf("connected node missing from Proxies()")
	}
	cancel()
	poll.Until(t, "the node to leave Proxies()", func() bool { return len(h.srv.Proxies()) == 0 })
	poll.Until(t, "the node's snapshot to be dropped", func() bool {
		_, err := h.srv.pub.Cache().View("web.default")
		return err != nil
	})
}
