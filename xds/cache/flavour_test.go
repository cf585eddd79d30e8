package cache

import (
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"embassy.dev/embassy/xds/cache/cachetest"
	"embassy.dev/embassy/xds/translate"
)

func TestFlavourOf(t *testing.T) {
	cases := []struct {
		node *core.Node
		want translate.Flavour
	}{
		{cachetest.EnvoyNode("web.default"), translate.Envoy},
		{&core.Node{Id: "x"}, translate.Envoy},
		{cachetest.GRPCNode("client"), translate.Proxyless},
		{&core.Node{Id: "c", UserAgentName: "gRPC Java"}, translate.Proxyless},
		{metadataProxylessNode("c"), translate.Proxyless},
		{cachetest.AgentNode("web-1.shop"), Agent},
	}
	for _, c := range cases {
		if got := FlavourOf(c.node); got != c.want {
			t.Errorf("FlavourOf(%v) = %s, want %s", c.node, got, c.want)
		}
	}
}

func TestProxyForReadsWorkloadAndNamespace(t *testing.T) {
	got := ProxyFor(cachetest.EnvoyNode("reviews.shop"))
	if got.Workload != "reviews" || got.Namespace != "shop" || got.Flavour != translate.Envoy {
		t.Errorf("ProxyFor = %+v", got)
	}
	for _, id := range []string{"nodot", ".ns", "wl."} {
		if p := ProxyFor(cachetest.EnvoyNode(id)); p.Workload != "" || p.Namespace != "" {
			t.Errorf("ProxyFor(%q) = %+v, want no workload", id, p)
		}
	}
	if p := ProxyFor(cachetest.GRPCNode("a.b")); p.Workload != "" {
		t.Errorf("proxyless node got a workload: %+v", p)
	}
}
