package validate_test

import (
	"slices"
	"strings"
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	router "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"embassy.dev/embassy/xds/translate"
	"embassy.dev/embassy/xds/validate"
)

func mustAny(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func ads() *core.ConfigSource {
	return &core.ConfigSource{ResourceApiVersion: core.ApiVersion_V3, ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}}}
}

func rdsHCM(t *testing.T, statPrefix, rds string) *anypb.Any {
	return mustAny(t, &hcm.HttpConnectionManager{
		StatPrefix:     statPrefix,
		RouteSpecifier: &hcm.HttpConnectionManager_Rds{Rds: &hcm.Rds{ConfigSource: ads(), RouteConfigName: rds}},
		HttpFilters:    []*hcm.HttpFilter{{Name: "envoy.filters.http.router", ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: mustAny(t, &router.Router{})}}},
	})
}

func apiListener(name string, hcmAny *anypb.Any) *listener.Listener {
	return &listener.Listener{Name: name, ApiListener: &listener.ApiListener{ApiListener: hcmAny}}
}

func chainListener(name string, filter string, cfg *anypb.Any, ts *core.TransportSocket) *listener.Listener {
	return &listener.Listener{
		Name: name,
		Address: &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
			Address: "127.0.0.1", PortSpecifier: &core.SocketAddress_PortValue{PortValue: 15001},
		}}},
		FilterChains: []*listener.FilterChain{{
			Filters:         []*listener.Filter{{Name: filter, ConfigType: &listener.Filter_TypedConfig{TypedConfig: cfg}}},
			TransportSocket: ts,
		}},
	}
}

func edsCluster(name string) *cluster.Cluster {
	return &cluster.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_EDS},
		EdsClusterConfig:     &cluster.Cluster_EdsClusterConfig{EdsConfig: ads()},
		ConnectTimeout:       durationpb.New(5e9),
	}
}

func cla(name string) *endpoint.ClusterLoadAssignment {
	return &endpoint.ClusterLoadAssignment{ClusterName: name}
}

// scope selects route configuration rc for requests whose key is key.
func scope(name, key, rc string) *route.ScopedRouteConfiguration {
	return &route.ScopedRouteConfiguration{Name: name, RouteConfigurationName: rc, Key: &route.ScopedRouteConfiguration_Key{
		Fragments: []*route.ScopedRouteConfiguration_Key_Fragment{{Type: &route.ScopedRouteConfiguration_Key_Fragment_StringKey{StringKey: key}}},
	}}
}

func routeTo(name string, action *route.RouteAction) *route.RouteConfiguration {
	return &route.RouteConfiguration{Name: name, VirtualHosts: []*route.VirtualHost{{
		Name: "vh", Domains: []string{"*"},
		Routes: []*route.Route{{
			Match:  &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}},
			Action: &route.Route_Route{Route: action},
		}},
	}}}
}

func toCluster(name string) *route.RouteAction {
	return &route.RouteAction{ClusterSpecifier: &route.RouteAction_Cluster{Cluster: name}}
}

// clean is a small consistent set: a proxyless listener, its routes, a
// cluster and its endpoints.
func clean(t *testing.T) *translate.Resources {
	return &translate.Resources{
		Listeners: []*listener.Listener{apiListener("web.default:80", rdsHCM(t, "web", "web.default:80"))},
		Routes:    []*route.RouteConfiguration{routeTo("web.default:80", toCluster("c1"))},
		Clusters:  []*cluster.Cluster{edsCluster("c1")},
		Endpoints: []*endpoint.ClusterLoadAssignment{cla("c1")},
	}
}

func TestCleanSetPasses(t *testing.T) {
	if err := validate.Resources(clean(t), nil); err != nil {
		t.Fatalf("clean set refused: %v", err)
	}
	if err := validate.Resources(nil, nil); err != nil {
		t.Fatalf("nil set refused: %v", err)
	}
}

func TestProblems(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(t *testing.T, r *translate.Resources)
		allow  []string
		want   []string
		// at is the resource each problem names, in order.
		at []string
	}{
		{
			name: "HCM inside api_listener without stat_prefix",
			mutate: func(t *testing.T, r *translate.Resources) {
				r.Listeners[0] = apiListener("web.default:80", rdsHCM(t, "", "web.default:80"))
			},
			want: []string{"Listener web.default:80", "StatPrefix"},
			at:   []string{"Listener web.default:80"},
		},
		{
			name: "HCM inside a filter chain without stat_prefix",
			mutate: func(t *testing.T, r *translate.Resources) {
				r.Listeners[0] = chainListener("web.default:80", "envoy.filters.network.http_connection_manager", rdsHCM(t, "", "web.default:80"), nil)
			},
			want: []string{"HttpConnectionManager", "StatPrefix"},
			at:   []string{"Listener web.default:80"},
		},
		{
			name: "api_listener names an unserved route configuration",
			mutate: func(t *testing.T, r *translate.Resources) {
				r.Listeners[0] = apiListener("web.default:80", rdsHCM(t, "web", "elsewhere"))
			},
			want: []string{`RouteConfiguration "elsewhere" referenced by [Listener web.default:80] is not served`},
			at:   []string{"Listener web.default:80"},
		},
		{
			name: "filter chain names an unserved route configuration",
			mutate: func(t *testing.T, r *translate.Resources) {
				r.Listeners = append(r.Listeners, chainListener("outbound_http", "envoy.filters.network.http_connection_manager", rdsHCM(t, "out", "outbound_http"), nil))
			},
			want: []string{`RouteConfiguration "outbound_http" referenced by [Listener outbound_http] is not served`},
			at:   []string{"Listener outbound_http"},
		},
		{
			name: "scope names an unserved route configuration",
			mutate: func(t *testing.T, r *translate.Resources) {
				r.ScopedRoutes = append(r.ScopedRoutes, scope("outbound_http|web.default", "web.default", "outbound_http|web.default"))
			},
			want: []string{`RouteConfiguration "outbound_http|web.default" referenced by [ScopedRouteConfiguration outbound_http|web.default] is not served`},
			at:   []string{"ScopedRouteConfiguration outbound_http|web.default"},
		},
		{
			name: "scope without a key",
			mutate: func(t *testing.T, r *translate.Resources) {
				r.ScopedRoutes = append(r.ScopedRoutes, &route.ScopedRouteConfiguration{Name: "s", RouteConfigurationName: "web.default:80"})
			},
			want: []string{"ScopedRouteConfiguration s", "Key", "value is required"},
			at:   []string{"ScopedRouteConfiguration s"},
		},
		{
			name: "scope served twice",
			mutate: func(t *testing.T, r *translate.Resources) {
				s := scope("s", "web.default", "web.default:80")
				r.ScopedRoutes = append(r.ScopedRoutes, s, s)
			},
			want: []string{`ScopedRouteConfiguration "s" is served twice`},
			at:   []string{"ScopedRouteConfiguration s"},
		},
		{
			name: "EDS cluster without assignment",
			mutate: func(t *testing.T, r *translate.Resources) {
				r.Endpoints = nil
			},
			want: []string{`ClusterLoadAssignment "c1" for EDS Cluster c1 is not served`},
			at:   []string{"Cluster c1"},
		},
		{
			name: "EDS cluster whose service_name is not served",
			mutate: func(t *testing.T, r *translate.Resources) {
				r.Clusters[0].EdsClusterConfig.ServiceName = "c1-eds"
			},
			want: []string{`ClusterLoadAssignment "c1-eds" for EDS Cluster c1`},
			at:   []string{"Cluster c1"},
		},
		{
			name: "route to an unserved cluster",
			mutate: func(t *testing.T, r *translate.Resources) {
				r.Routes[0] = routeTo("web.default:80", toCluster("nowhere"))
			},
			want: []string{`Cluster "nowhere" referenced by [RouteConfiguration web.default:80] is not served`},
			at:   []string{"RouteConfiguration web.default:80"},
		},
		{
			name: "weighted route to an unserved cluster",
			mutate: func(t *testing.T, r *translate.Resources) {
				r.Routes[0] = routeTo("web.default:80", &route.RouteAction{ClusterSpecifier: &route.RouteAction_WeightedClusters{WeightedClusters: &route.WeightedCluster{
					Clusters: []*route.WeightedCluster_ClusterWeight{{Name: "c1", Weight: wrapperspb.UInt32(1)}, {Name: "c2", Weight: wrapperspb.UInt32(1)}},
				}}})
			},
			want: []string{`Cluster "c2"`},
			at:   []string{"RouteConfiguration web.default:80"},
		},
		{
			name: "tcp proxy to an unserved cluster",
			mutate: func(t *testing.T, r *translate.Resources) {
				r.Listeners = append(r.Listeners, chainListener("outbound_tcp_5432", "envoy.filters.network.tcp_proxy", mustAny(t, &tcp.TcpProxy{StatPrefix: "pg", ClusterSpecifier: &tcp.TcpProxy_Cluster{Cluster: "pg"}}), nil))
			},
			want: []string{`Cluster "pg" referenced by [Listener outbound_tcp_5432] is not served`},
			at:   []string{"Listener outbound_tcp_5432"},
		},
		{
			name: "SDS secret neither served nor external",
			mutate: func(t *testing.T, r *translate.Resources) {
				r.Clusters[0].TransportSocket = sdsSocket(t, "spiffe://example.org/ns/default/sa/web")
			},
			want: []string{`Secret "spiffe://example.org/ns/default/sa/web" referenced by [Cluster c1] is not served`},
			at:   []string{"Cluster c1", "Cluster c1"},
		},
		{
			name: "Any of a type this binary does not know",
			mutate: func(t *testing.T, r *translate.Resources) {
				r.Listeners[0].ApiListener.ApiListener = &anypb.Any{TypeUrl: "type.googleapis.com/unknown.Thing"}
			},
			want: []string{"cannot unpack type.googleapis.com/unknown.Thing"},
			at:   []string{"Listener web.default:80"},
		},
		{
			name: "two problems are both reported",
			mutate: func(t *testing.T, r *translate.Resources) {
				r.Endpoints = nil
				r.Routes[0] = routeTo("web.default:80", toCluster("nowhere"))
			},
			want: []string{`Cluster "nowhere"`, `ClusterLoadAssignment "c1"`},
			at:   []string{"RouteConfiguration web.default:80", "Cluster c1"},
		},
		{
			name: "duplicate names",
			mutate: func(t *testing.T, r *translate.Resources) {
				r.Clusters = append(r.Clusters, edsCluster("c1"))
			},
			want: []string{`Cluster "c1" is served twice`},
			at:   []string{"Cluster c1"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := clean(t)
			tc.mutate(t, r)
			err := validate.Resources(r, tc.allow)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			var at []string
			for _, p := range validate.Problems(err) {
				at = append(at, p.Resource)
			}
			if !slices.Equal(at, tc.at) {
				t.Errorf("problems are in %q, want %q:\n%v", at, tc.at, err)
			}
		})
	}
}

func TestExternalSecretAllowed(t *testing.T) {
	r := clean(t)
	r.Clusters[0].TransportSocket = sdsSocket(t, "default")
	if err := validate.Resources(r, []string{"default", "ROOTCA"}); err != nil {
		t.Fatalf("external secrets refused: %v", err)
	}
	r.Secrets = []*tls.Secret{{Name: "default"}, {Name: "ROOTCA"}}
	if err := validate.Resources(r, nil); err != nil {
		t.Fatalf("served secrets refused: %v", err)
	}
}

// TestStructIsWalked checks the walk goes through messages that are not
// Envoy's (a Struct in metadata) without tripping.
func TestStructIsWalked(t *testing.T) {
	r := clean(t)
	st, err := structpb.NewStruct(map[string]any{"a": map[string]any{"b": []any{1, "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	r.Clusters[0].Metadata = &core.Metadata{FilterMetadata: map[string]*structpb.Struct{"z": st, "y": st}}
	if err := validate.Resources(r, nil); err != nil {
		t.Fatal(err)
	}
}

// sdsSocket is an upstream TLS socket whose certificate and trust bundle
// come over SDS.
func sdsSocket(t *testing.T, secret string) *core.TransportSocket {
	ctx := &tls.UpstreamTlsContext{CommonTlsContext: &tls.CommonTlsContext{
		TlsCertificateSdsSecretConfigs: []*tls.SdsSecretConfig{{Name: secret, SdsConfig: ads()}},
		ValidationContextType: &tls.CommonTlsContext_ValidationContextSdsSecretConfig{
			ValidationContextSdsSecretConfig: &tls.SdsSecretConfig{Name: "ROOTCA", SdsConfig: ads()},
		},
	}}
	return &core.TransportSocket{Name: "envoy.transport_sockets.tls", ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: mustAny(t, ctx)}}
}
