package server

import (
	"slices"
	"testing"

	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	endpointservice "github.com/envoyproxy/go-control-plane/envoy/service/endpoint/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/xds/cache/cachetest"
)

// A node may use one stream per type instead of ADS, and requests on such
// streams may leave the type URL out; status is still kept per type and
// the node stays until its last stream closes.
func TestPerTypeStreamsAreTrackedPerNode(t *testing.T) {
	h := start(t)
	h.update(t, 1)
	conn := h.conn
	ctx, _ := streamContext(t)

	cds, err := clusterservice.NewClusterDiscoveryServiceClient(conn).StreamClusters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cds.Send(&discovery.DiscoveryRequest{Node: cachetest.EnvoyNode("web.default")}); err != nil {
		t.Fatal(err)
	}
	resp, err := cds.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, resp); !slices.Equal(got, []string{"db", "web"}) {
		t.Fatalf("CDS stream got %v", got)
	}
	if err := cds.Send(&discovery.DiscoveryRequest{VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()}); err != nil {
		t.Fatal(err)
	}

	edsCtx, closeEDS := streamContext(t)
	eds, err := endpointservice.NewEndpointDiscoveryServiceClient(conn).DeltaEndpoints(edsCtx)
	if err != nil {
		t.Fatal(err)
	}
	if err := eds.Send(&discovery.DeltaDiscoveryRequest{Node: cachetest.EnvoyNode("web.default"), ResourceNamesSubscribe: []string{"db"}}); err != nil {
		t.Fatal(err)
	}
	dresp, err := eds.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got := deltaNames(dresp); !slices.Equal(got, []string{"db"}) {
		t.Fatalf("delta EDS stream got %v, want [db]", got)
	}
	if err := eds.Send(&discovery.DeltaDiscoveryRequest{ResponseNonce: dresp.GetNonce()}); err != nil {
		t.Fatal(err)
	}

	poll.Until(t, "both types acknowledged", func() bool {
		p, ok := h.proxy("web.default")
		if !ok {
			return false
		}
		c, e := p.Types[resourcev3.ClusterType], p.Types[resourcev3.EndpointType]
		return c.VersionAcked != "" && c.VersionAcked == c.VersionSent && e.VersionAcked != "" && e.VersionAcked == e.VersionSent
	})
	if _, ok := h.proxy("web.default"); !ok || len(h.srv.Proxies()) != 1 {
		t.Fatalf("two streams of one node must make one proxy, got %+v", h.srv.Proxies())
	}

	closeEDS()
	// The node keeps its CDS stream, so it stays and is still served.
	h.fake.SetPort("extra", 7000)
	h.update(t, 2)
	resp, err = cds.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, resp); !slices.Equal(got, []string{"db", "extra", "web"}) {
		t.Fatalf("CDS stream after closing EDS got %v", got)
	}
	if _, ok := h.proxy("web.default"); !ok {
		t.Fatalf("node left Proxies() while a stream is open")
	}
}
