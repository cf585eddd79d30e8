package envoyrules_test

import (
	"testing"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	lrl "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	router "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"embassy.dev/embassy/xds/translate"
)

func mustAny(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func socket(ip string, port uint32) *core.Address {
	return &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
		Address: ip, PortSpecifier: &core.SocketAddress_PortValue{PortValue: port}}}}
}

func httpFilter(t *testing.T, name string, m proto.Message) *hcm.HttpFilter {
	return &hcm.HttpFilter{Name: name, ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: mustAny(t, m)}}
}

func routerFilter(t *testing.T) *hcm.HttpFilter {
	return httpFilter(t, "envoy.filters.http.router", &router.Router{})
}

func rateLimit(fill time.Duration) *lrl.LocalRateLimit {
	return &lrl.LocalRateLimit{StatPrefix: "rl", TokenBucket: &typev3.TokenBucket{MaxTokens: 10, FillInterval: durationpb.New(fill)}}
}

// httpListener is a sidecar's HTTP listener: an HCM naming route config
// rc, with filters (the router last unless told otherwise).
func httpListener(t *testing.T, name string, port uint32, filters ...*hcm.HttpFilter) *listener.Listener {
	h := &hcm.HttpConnectionManager{
		StatPrefix: name,
		RouteSpecifier: &hcm.HttpConnectionManager_Rds{Rds: &hcm.Rds{RouteConfigName: name, ConfigSource: &core.ConfigSource{
			ResourceApiVersion: core.ApiVersion_V3, ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}}}}},
		HttpFilters: filters,
	}
	return &listener.Listener{Name: name, Address: socket("127.0.0.1", port), FilterChains: []*listener.FilterChain{{
		Filters: []*listener.Filter{{Name: "envoy.filters.network.http_connection_manager", ConfigType: &listener.Filter_TypedConfig{TypedConfig: mustAny(t, h)}}},
	}}}
}

func tcpFilter(t *testing.T) *listener.Filter {
	return &listener.Filter{Name: "envoy.filters.network.tcp_proxy", ConfigType: &listener.Filter_TypedConfig{TypedConfig: mustAny(t,
		&tcp.TcpProxy{StatPrefix: "tcp", ClusterSpecifier: &tcp.TcpProxy_Cluster{Cluster: "c1"}})}}
}

// base is a clean node set: an HTTP listener with a route to cluster c1.
func base(t *testing.T) *translate.Resources {
	return &translate.Resources{
		Listeners: []*listener.Listener{httpListener(t, "outbound_http", 15001, routerFilter(t))},
		Routes: []*route.RouteConfiguration{{Name: "outbound_http", VirtualHosts: []*route.VirtualHost{{
			Name: "web", Domains: []string{"web"}, Routes: []*route.Route{routeTo("c1")},
		}}}},
		Clusters: []*cluster.Cluster{edsCluster("c1")},
	}
}

// edsCluster is a cluster whose endpoints come over ADS.
func edsCluster(name string) *cluster.Cluster {
	return &cluster.Cluster{Name: name, ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_EDS},
		EdsClusterConfig: &cluster.Cluster_EdsClusterConfig{EdsConfig: &core.ConfigSource{
			ResourceApiVersion: core.ApiVersion_V3, ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}}}}}
}

func routeTo(c string) *route.Route {
	return &route.Route{Name: "r", Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}},
		Action: &route.Route_Route{Route: &route.RouteAction{ClusterSpecifier: &route.RouteAction_Cluster{Cluster: c}}}}
}

// firstRoute is the base set's one route, to edit.
func firstRoute(r *translate.Resources) *route.Route { return r.Routes[0].VirtualHosts[0].Routes[0] }

// scopedBase is base with its listener choosing the route configuration
// per request over Scoped RDS, keyed by element index of the authority
// split on sep, and one scope "web" naming it.
func scopedBase(t *testing.T, index uint32, sep string) *translate.Resources {
	r := base(t)
	r.Routes[0].Name = "outbound_http|web"
	ads := &core.ConfigSource{ResourceApiVersion: core.ApiVersion_V3, ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}}}
	h := &hcm.HttpConnectionManager{
		StatPrefix: "outbound_http",
		RouteSpecifier: &hcm.HttpConnectionManager_ScopedRoutes{ScopedRoutes: &hcm.ScopedRoutes{
			Name: "outbound_http",
			ScopeKeyBuilder: &hcm.ScopedRoutes_ScopeKeyBuilder{Fragments: []*hcm.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder{{
				Type: &hcm.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder_HeaderValueExtractor_{HeaderValueExtractor: &hcm.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder_HeaderValueExtractor{
					Name: ":authority", ElementSeparator: sep,
					ExtractType: &hcm.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder_HeaderValueExtractor_Index{Index: index},
				}},
			}}},
			RdsConfigSource: ads,
			ConfigSpecifier: &hcm.ScopedRoutes_ScopedRds{ScopedRds: &hcm.ScopedRds{ScopedRdsConfigSource: ads}},
		}},
		HttpFilters: []*hcm.HttpFilter{routerFilter(t)},
	}
	r.Listeners[0].FilterChains[0].Filters[0].ConfigType = &listener.Filter_TypedConfig{TypedConfig: mustAny(t, h)}
	r.ScopedRoutes = []*route.ScopedRouteConfiguration{scope("outbound_http|web", "web", "outbound_http|web")}
	return r
}

// scope selects route configuration rc for requests whose key is key.
func scope(name, key, rc string) *route.ScopedRouteConfiguration {
	return &route.ScopedRouteConfiguration{Name: name, RouteConfigurationName: rc, Key: &route.ScopedRouteConfiguration_Key{
		Fragments: []*route.ScopedRouteConfiguration_Key_Fragment{{Type: &route.ScopedRouteConfiguration_Key_Fragment_StringKey{StringKey: key}}},
	}}
}
