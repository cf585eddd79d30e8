package server

import (
	"slices"
	"testing"

	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/xds/cache/cachetest"
)

func TestDeltaSendsOnlyTheChangedLoadAssignment(t *testing.T) {
	h := start(t)
	h.update(t, 1)
	stream := h.delta(t)
	for i, typ := range fourTypes {
		req := &discovery.DeltaDiscoveryRequest{TypeUrl: typ}
		if i == 0 {
			req.Node = cachetest.EnvoyNode("web.default")
		}
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for range fourTypes {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		typ := resp.GetTypeUrl()
		seen[typ] = true
		if !slices.Equal(deltaNames(resp), fourTypeNames[typ]) {
			t.Errorf("%s: got %v, want %v", typ, deltaNames(resp), fourTypeNames[typ])
		}
		if err := stream.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: typ, ResponseNonce: resp.GetNonce()}); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != len(fourTypes) {
		t.Fatalf("initial responses covered %v, want all four types", seen)
	}
	poll.Until(t, "all four types acknowledged", func() bool {
		p, ok := h.proxy("web.default")
		if !ok || p.XDS != "delta" {
			return false
		}
		for _, typ := range fourTypes {
			ts := p.Types[typ]
			if ts.VersionSent == "" || ts.VersionAcked != ts.VersionSent {
				return false
			}
		}
		return true
	})

	h.fake.SetPort("db", 6000)
	h.update(t, 2)
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetTypeUrl() != resourcev3.EndpointType || !slices.Equal(deltaNames(resp), []string{"db"}) || len(resp.GetRemovedResources()) != 0 {
		t.Fatalf("after changing db got %s %v removed %v, want only the db load assignment", resp.GetTypeUrl(), deltaNames(resp), resp.GetRemovedResources())
	}
	if err := stream.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: resourcev3.EndpointType, ResponseNonce: resp.GetNonce()}); err != nil {
		t.Fatal(err)
	}

	// Responses on a stream are ordered: if the previous push had sent
	// anything for another type, it would arrive before this one.
	h.fake.SetPort("web", 8081)
	h.update(t, 3)
	resp, err = stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetTypeUrl() != resourcev3.EndpointType || !slices.Equal(deltaNames(resp), []string{"web"}) {
		t.Fatalf("after changing web got %s %v, want only the web load assignment", resp.GetTypeUrl(), deltaNames(resp))
	}
	if s := h.srv.Stats(); s.Delta.Responses != 6 || s.Delta.Bytes == 0 || s.SotW.Responses != 0 {
		t.Errorf("stats = %+v, want 6 delta responses with bytes", s)
	}
}

// TestDeltaReconnectSendsOnlyWhatTheProxyLacks reconnects a delta proxy
// that says (initial_resource_versions) it holds one cluster as sent, one
// at an old version and one the mesh no longer has, over the per-type CDS
// service: it is sent the stale one and told of the gone one, nothing else.
func TestDeltaReconnectSendsOnlyWhatTheProxyLacks(t *testing.T) {
	h := start(t)
	h.update(t, 1)
	stream := h.delta(t)
	node := cachetest.EnvoyNode("web.default")
	if err := stream.Send(&discovery.DeltaDiscoveryRequest{Node: node, TypeUrl: resourcev3.ClusterType}); err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]string{"gone": "1"}
	for _, r := range first.GetResources() {
		held[r.GetName()] = r.GetVersion()
	}
	held["web"] = "stale"

	ctx, _ := streamContext(t)
	cds, err := clusterservice.NewClusterDiscoveryServiceClient(h.conn).DeltaClusters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cds.Send(&discovery.DeltaDiscoveryRequest{Node: node, InitialResourceVersions: held}); err != nil {
		t.Fatal(err)
	}
	resp, err := cds.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetTypeUrl() != resourcev3.ClusterType || !slices.Equal(deltaNames(resp), []string{"web"}) || !slices.Equal(resp.GetRemovedResources(), []string{"gone"}) {
		t.Fatalf("reconnect holding db, a stale web and a gone cluster: got %s %v removed %v, want web and gone removed",
			resp.GetTypeUrl(), deltaNames(resp), resp.GetRemovedResources())
	}
}
