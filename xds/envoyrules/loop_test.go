package envoyrules_test

import (
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tcp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"

	"embassy.dev/embassy/xds/envoyrules"
	"embassy.dev/embassy/xds/translate"
)

func init() {
	probes["an inbound listener forwarding to its own address"] = probe{"listener.forwards-to-itself", func(t *testing.T, broken bool) *translate.Resources {
		return loopSet(t, "127.0.0.1", pick[uint32](broken, 18081, 28081))
	}}
	probes["an inbound listener whose app is the outbound listener"] = probe{"listener.forwards-to-itself", func(t *testing.T, broken bool) *translate.Resources {
		return loopSet(t, "10.0.0.1", pick[uint32](broken, 15001, 28081))
	}}
	probes["a wildcard inbound listener over its app's port"] = probe{"listener.forwards-to-itself", func(t *testing.T, broken bool) *translate.Resources {
		return loopSet(t, pick(broken, "0.0.0.0", "10.0.0.1"), 18081)
	}}
}

// loopSet is the base set plus an inbound tcp listener on bind:18081 whose
// static cluster is the app at 127.0.0.1:app.
func loopSet(t *testing.T, bind string, app uint32) *translate.Resources {
	r := base(t)
	proxy := &tcp.TcpProxy{StatPrefix: "in", ClusterSpecifier: &tcp.TcpProxy_Cluster{Cluster: "inbound|18081"}}
	r.Listeners = append(r.Listeners, &listener.Listener{Name: "inbound|18081", Address: socket(bind, 18081), FilterChains: []*listener.FilterChain{{
		Filters: []*listener.Filter{{Name: "envoy.filters.network.tcp_proxy", ConfigType: &listener.Filter_TypedConfig{TypedConfig: mustAny(t, proxy)}}},
	}}})
	r.Clusters = append(r.Clusters, &cluster.Cluster{Name: "inbound|18081", ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_STATIC},
		LoadAssignment: &endpoint.ClusterLoadAssignment{ClusterName: "inbound|18081", Endpoints: []*endpoint.LocalityLbEndpoints{{
			LbEndpoints: []*endpoint.LbEndpoint{{HostIdentifier: &endpoint.LbEndpoint_Endpoint{Endpoint: &endpoint.Endpoint{Address: socket("127.0.0.1", app)}}}},
		}}}})
	return r
}

// TestEmbassyRulesSaySo keeps the one rule Envoy does not enforce marked
// as such, so docs/envoy.md does not present it as an Envoy error.
func TestEmbassyRulesSaySo(t *testing.T) {
	for _, r := range envoyrules.Rules() {
		if r.ID == "listener.forwards-to-itself" && !r.Embassy {
			t.Errorf("%s is Embassy's rule, not Envoy's", r.ID)
		}
	}
}
