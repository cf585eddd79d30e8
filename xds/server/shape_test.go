package server

import (
	"fmt"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/xds/cache/cachetest"
)

// Many nodes of one shape, over delta and SotW at once, cost one Outbound
// and one ProxylessClient translation per mesh snapshot. Run with -race:
// the nodes read one shared cache snapshot concurrently.
func TestNodesOfOneShapeCostOneTranslation(t *testing.T) {
	h := start(t)
	ctx, _ := streamContext(t)
	const envoys, proxyless = 6, 3
	var deltas []discovery.AggregatedDiscoveryService_DeltaAggregatedResourcesClient
	for i := range envoys {
		s, err := h.ads.DeltaAggregatedResources(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Send(&discovery.DeltaDiscoveryRequest{Node: cachetest.EnvoyNode(fmt.Sprintf("w%d.default", i)), TypeUrl: resourcev3.EndpointType}); err != nil {
			t.Fatal(err)
		}
		deltas = append(deltas, s)
	}
	var sotws []discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	for i := range proxyless {
		s, err := h.ads.StreamAggregatedResources(ctx)
		if err != nil {
			t.Fatal(err)
		}
		req := &discovery.DiscoveryRequest{
			Node:          &core.Node{Id: fmt.Sprintf("client-%d", i), UserAgentName: "gRPC Go"},
			TypeUrl:       resourcev3.ListenerType,
			ResourceNames: []string{cachetest.ProxylessListenerName(0)},
		}
		if err := s.Send(req); err != nil {
			t.Fatal(err)
		}
		sotws = append(sotws, s)
	}
	poll.Until(t, "every node registered", func() bool { return len(h.srv.Proxies()) == envoys+proxyless })

	// The first push answers the watches opened before any snapshot.
	h.update(t, 1)
	for i, s := range deltas {
		resp, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if got := len(resp.GetResources()); got != 2 {
			t.Errorf("envoy %d: %d load assignments, want 2", i, got)
		}
		if err := s.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: resourcev3.EndpointType, ResponseNonce: resp.GetNonce()}); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range sotws {
		resp, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if got := len(resp.GetResources()); got != 1 {
			t.Errorf("proxyless %d: %d listeners, want 1", i, got)
		}
	}
	if o, p := h.fake.OutboundCalls(), h.fake.ProxylessCalls(); o != 1 || p != 1 {
		t.Errorf("one mesh snapshot ran Outbound %d and ProxylessClient %d times, want 1 and 1", o, p)
	}

	h.fake.SetPort("db", 6000)
	h.update(t, 2)
	for i, s := range deltas {
		resp, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if got := deltaNames(resp); len(got) != 1 || got[0] != "db" {
			t.Errorf("envoy %d: got %v, want [db]", i, got)
		}
	}
	if o, p := h.fake.OutboundCalls(), h.fake.ProxylessCalls(); o != 2 || p != 2 {
		t.Errorf("two mesh snapshots ran Outbound %d and ProxylessClient %d times, want 2 and 2", o, p)
	}
}
