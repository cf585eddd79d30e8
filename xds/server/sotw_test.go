package server

import (
	"slices"
	"testing"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/xds/cache/cachetest"
)

func TestSotWEnvoyReceivesAllTypesAndAcksAreTracked(t *testing.T) {
	h := start(t)
	h.update(t, 1)
	stream := h.sotw(t)
	requested := map[string][]string{
		resourcev3.ListenerType: nil,
		resourcev3.ClusterType:  nil,
		resourcev3.RouteType:    {"web"},
		resourcev3.EndpointType: {"db", "web"},
	}
	for i, typ := range fourTypes {
		req := &discovery.DiscoveryRequest{TypeUrl: typ, ResourceNames: requested[typ]}
		if i == 0 {
			// Like Envoy, send the node on the first request only.
			req.Node = cachetest.EnvoyNode("web.default")
		}
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]*discovery.DiscoveryResponse{}
	for range fourTypes {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(names(t, resp), fourTypeNames[resp.GetTypeUrl()]) {
			t.Errorf("%s: got %v, want %v", resp.GetTypeUrl(), names(t, resp), fourTypeNames[resp.GetTypeUrl()])
		}
		got[resp.GetTypeUrl()] = resp
	}
	for _, typ := range fourTypes {
		resp := got[typ]
		if resp == nil {
			t.Fatalf("no %s response", typ)
		}
		ack := &discovery.DiscoveryRequest{TypeUrl: typ, VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce(), ResourceNames: requested[typ]}
		if err := stream.Send(ack); err != nil {
			t.Fatal(err)
		}
	}
	poll.Until(t, "all four types acknowledged", func() bool {
		p, ok := h.proxy("web.default")
		if !ok || len(p.Types) != len(fourTypes) {
			return false
		}
		for _, typ := range fourTypes {
			ts := p.Types[typ]
			if ts.VersionSent == "" || ts.VersionAcked != ts.VersionSent || ts.AckedAt.IsZero() || ts.SentAt.IsZero() {
				return false
			}
		}
		return true
	})
	p, _ := h.proxy("web.default")
	if p.Flavour != "envoy" || p.XDS != "sotw" || p.ConnectedSince.IsZero() {
		t.Errorf("proxy status = %+v", p)
	}
	for _, typ := range fourTypes {
		if p.Types[typ].VersionSent != got[typ].GetVersionInfo() {
			t.Errorf("%s: version sent %q, response carried %q", typ, p.Types[typ].VersionSent, got[typ].GetVersionInfo())
		}
	}

	// A new endpoint version reaches the proxy, which rejects it.
	h.fake.SetPort("db", 6000)
	h.update(t, 2)
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetTypeUrl() != resourcev3.EndpointType {
		t.Fatalf("after an endpoint change got a %s response", resp.GetTypeUrl())
	}
	acked := got[resourcev3.EndpointType].GetVersionInfo()
	nack := &discovery.DiscoveryRequest{
		TypeUrl:       resourcev3.EndpointType,
		VersionInfo:   acked,
		ResponseNonce: resp.GetNonce(),
		ResourceNames: requested[resourcev3.EndpointType],
		ErrorDetail:   &rpcstatus.Status{Code: int32(codes.InvalidArgument), Message: "endpoint db rejected"},
	}
	if err := stream.Send(nack); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the NACK recorded", func() bool {
		p, ok := h.proxy("web.default")
		return ok && p.Types[resourcev3.EndpointType].NackCount == 1
	})
	p, _ = h.proxy("web.default")
	eds := p.Types[resourcev3.EndpointType]
	if eds.LastNack == nil || eds.LastNack.Message != "endpoint db rejected" || eds.LastNack.Version != resp.GetVersionInfo() || eds.LastNack.Time.IsZero() {
		t.Errorf("last NACK = %+v, want message, rejected version %q and time", eds.LastNack, resp.GetVersionInfo())
	}
	if eds.VersionAcked != acked || eds.VersionSent != resp.GetVersionInfo() {
		t.Errorf("after NACK: acked %q (want %q), sent %q (want %q)", eds.VersionAcked, acked, eds.VersionSent, resp.GetVersionInfo())
	}

	// The rejected version is not sent back; the next response carries
	// new content.
	h.fake.SetPort("db", 6001)
	h.update(t, 3)
	next, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if next.GetTypeUrl() != resourcev3.EndpointType || next.GetVersionInfo() == resp.GetVersionInfo() {
		t.Fatalf("after a NACK got %s version %q, want new endpoints (rejected %q)", next.GetTypeUrl(), next.GetVersionInfo(), resp.GetVersionInfo())
	}
	if s := h.srv.Stats(); s.SotW.Responses != 6 || s.SotW.Bytes == 0 || s.Delta.Responses != 0 {
		t.Errorf("stats = %+v, want 6 SotW responses with bytes", s)
	}
}

// TestSotWIgnoresARequestWithAStaleNonce sends, after an EDS response, a
// request that names one more load assignment but answers an older
// nonce: the stream ignores it, as the protocol asks, so the next
// response is the one a push brings, carrying only what changed.
func TestSotWIgnoresARequestWithAStaleNonce(t *testing.T) {
	h := start(t)
	h.update(t, 1)
	stream := h.sotw(t)
	send := func(req *discovery.DiscoveryRequest) {
		t.Helper()
		req.TypeUrl = resourcev3.EndpointType
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	send(&discovery.DiscoveryRequest{Node: cachetest.EnvoyNode("web.default"), ResourceNames: []string{"db", "web"}})
	first, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	send(&discovery.DiscoveryRequest{VersionInfo: first.GetVersionInfo(), ResponseNonce: "stale", ResourceNames: []string{"db", "web", "other"}})
	send(&discovery.DiscoveryRequest{VersionInfo: first.GetVersionInfo(), ResponseNonce: first.GetNonce(), ResourceNames: []string{"db", "web"}})
	h.fake.SetPort("web", 8081)
	h.update(t, 2)
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, resp); !slices.Equal(got, []string{"web"}) {
		t.Fatalf("after a stale request and the ack, the next response holds %v, want the changed web alone", got)
	}
}
