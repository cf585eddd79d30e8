package envoyrules_test

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	jwt "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpopts "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/xds/envoyrules"
	"embassy.dev/embassy/xds/translate"
	"embassy.dev/embassy/xds/validate"
)

// probe builds a set that breaks one rule when broken is true, and the same
// set with that one value fixed otherwise.
type probe struct {
	rule  string
	build func(t *testing.T, broken bool) *translate.Resources
}

func pick[T any](broken bool, bad, good T) T {
	if broken {
		return bad
	}
	return good
}

var probes = map[string]probe{
	"two listeners on one address": {"listener.duplicate-address", func(t *testing.T, broken bool) *translate.Resources {
		r := base(t)
		r.Listeners = append(r.Listeners, httpListener(t, "inbound|8080", pick[uint32](broken, 15001, 8080), routerFilter(t)))
		return r
	}},
	"two filter chains with equal matches": {"listener.filter-chain-match-unique", func(t *testing.T, broken bool) *translate.Resources {
		r := base(t)
		l := r.Listeners[0]
		second := &listener.FilterChain{Filters: l.FilterChains[0].Filters, FilterChainMatch: &listener.FilterChainMatch{}}
		if !broken {
			second.FilterChainMatch.TransportProtocol = "tls"
		}
		l.FilterChains = append(l.FilterChains, second)
		return r
	}},
	"tcp_proxy before another network filter": {"listener.terminal-filter", func(t *testing.T, broken bool) *translate.Resources {
		r := base(t)
		fc := r.Listeners[0].FilterChains[0]
		fc.Filters = pick(broken, []*listener.Filter{tcpFilter(t), fc.Filters[0]}, []*listener.Filter{tcpFilter(t)})
		return r
	}},
	"a filter after the router": {"hcm.terminal-filter", func(t *testing.T, broken bool) *translate.Resources {
		r := base(t)
		rl := httpFilter(t, "envoy.filters.http.local_ratelimit", rateLimit(time.Second))
		filters := pick(broken, []*hcm.HttpFilter{routerFilter(t), rl}, []*hcm.HttpFilter{rl, routerFilter(t)})
		r.Listeners[0] = httpListener(t, "outbound_http", 15001, filters...)
		return r
	}},
	"no router at the end": {"hcm.terminal-filter", func(t *testing.T, broken bool) *translate.Resources {
		r := base(t)
		rl := httpFilter(t, "envoy.filters.http.local_ratelimit", rateLimit(time.Second))
		filters := pick(broken, []*hcm.HttpFilter{rl}, []*hcm.HttpFilter{rl, routerFilter(t)})
		r.Listeners[0] = httpListener(t, "outbound_http", 15001, filters...)
		return r
	}},
	"weights summing to 0": {"route.weighted-clusters-positive", func(t *testing.T, broken bool) *translate.Resources {
		return weighted(t, pick[uint32](broken, 0, 1), 0)
	}},
	"weights overflowing 32 bits": {"route.weighted-clusters-overflow", func(t *testing.T, broken bool) *translate.Resources {
		return weighted(t, math.MaxUint32, pick[uint32](broken, 1, 0))
	}},
	"a retry back-off whose maximum is below its base": {"route.retry-backoff-order", func(t *testing.T, broken bool) *translate.Resources {
		r := base(t)
		// Both round to 1 ms when fixed: Envoy compares whole milliseconds.
		firstRoute(r).GetRoute().RetryPolicy = &route.RetryPolicy{RetryBackOff: &route.RetryPolicy_RetryBackOff{
			BaseInterval: durationpb.New(pick(broken, 100*time.Millisecond, 1500*time.Microsecond)),
			MaxInterval:  durationpb.New(1200 * time.Microsecond),
		}}
		return r
	}},
	"an SDS source through a cluster the bootstrap does not define": {"config-source.static-cluster", func(t *testing.T, broken bool) *translate.Resources {
		r := base(t)
		source := &core.ConfigSource{ResourceApiVersion: core.ApiVersion_V3, ConfigSourceSpecifier: &core.ConfigSource_ApiConfigSource{ApiConfigSource: &core.ApiConfigSource{
			ApiType: core.ApiConfigSource_GRPC, TransportApiVersion: core.ApiVersion_V3,
			GrpcServices: []*core.GrpcService{{TargetSpecifier: &core.GrpcService_EnvoyGrpc_{EnvoyGrpc: &core.GrpcService_EnvoyGrpc{
				ClusterName: pick(broken, "c1", dataplane.SDSClusterName)}}}},
		}}}
		ctx := &tls.UpstreamTlsContext{CommonTlsContext: &tls.CommonTlsContext{TlsCertificateSdsSecretConfigs: []*tls.SdsSecretConfig{{Name: "default", SdsConfig: source}}}}
		r.Clusters[0].TransportSocket = &core.TransportSocket{Name: "envoy.transport_sockets.tls", ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: mustAny(t, ctx)}}
		return r
	}},
	"an unescaped % in a route's header value": {"header.format-string", func(t *testing.T, broken bool) *translate.Resources {
		r := base(t)
		firstRoute(r).RequestHeadersToAdd = []*core.HeaderValueOption{{Header: &core.HeaderValue{Key: "x-discount", Value: pick(broken, "50%", "50%%")}}}
		return r
	}},
	"an unescaped % in a rate limit's response header": {"header.format-string", func(t *testing.T, broken bool) *translate.Resources {
		r := base(t)
		rl := rateLimit(time.Second)
		rl.ResponseHeadersToAdd = []*core.HeaderValueOption{{Header: &core.HeaderValue{Key: "x-rl", Value: pick(broken, "100% used", "100%% used")}}}
		r.Listeners[0] = httpListener(t, "outbound_http", 15001, httpFilter(t, "envoy.filters.http.local_ratelimit", rl), routerFilter(t))
		return r
	}},
	"an EDS cluster without an EDS config": {"cluster.eds-config", func(t *testing.T, broken bool) *translate.Resources {
		r := base(t)
		if broken {
			r.Clusters[0].EdsClusterConfig = nil
		}
		return r
	}},
	"a gRPC health check on an HTTP/1 cluster": {"cluster.grpc-health-check-http2", func(t *testing.T, broken bool) *translate.Resources {
		r := base(t)
		c := r.Clusters[0]
		c.HealthChecks = []*core.HealthCheck{{Timeout: durationpb.New(time.Second), Interval: durationpb.New(time.Second),
			HealthChecker: &core.HealthCheck_GrpcHealthCheck_{GrpcHealthCheck: &core.HealthCheck_GrpcHealthCheck{}}}}
		if !broken {
			c.TypedExtensionProtocolOptions = map[string]*anypb.Any{"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": mustAny(t, &httpopts.HttpProtocolOptions{
				UpstreamProtocolOptions: &httpopts.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &httpopts.HttpProtocolOptions_ExplicitHttpConfig{
					ProtocolConfig: &httpopts.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{Http2ProtocolOptions: &core.Http2ProtocolOptions{}}}}})}
		}
		return r
	}},
	"a JWT requirement naming no provider": {"jwt_authn.provider-configured", func(t *testing.T, broken bool) *translate.Resources {
		r := base(t)
		cfg := &jwt.JwtAuthentication{
			Providers: map[string]*jwt.JwtProvider{"issuer-a": {Issuer: "a"}},
			RequirementMap: map[string]*jwt.JwtRequirement{"any": {RequiresType: &jwt.JwtRequirement_RequiresAny{RequiresAny: &jwt.JwtRequirementOrList{Requirements: []*jwt.JwtRequirement{
				{RequiresType: &jwt.JwtRequirement_ProviderName{ProviderName: "issuer-a"}},
				{RequiresType: &jwt.JwtRequirement_ProviderName{ProviderName: pick(broken, "issuer-b", "issuer-a")}},
			}}}}},
		}
		r.Listeners[0] = httpListener(t, "outbound_http", 15001, httpFilter(t, "envoy.filters.http.jwt_authn", cfg), routerFilter(t))
		return r
	}},
	"a rate limit refilling every 20ms on the listener": {"local_ratelimit.fill-interval", func(t *testing.T, broken bool) *translate.Resources {
		r := base(t)
		rl := rateLimit(pick(broken, 20*time.Millisecond, 50*time.Millisecond))
		r.Listeners[0] = httpListener(t, "outbound_http", 15001, httpFilter(t, "envoy.filters.http.local_ratelimit", rl), routerFilter(t))
		return r
	}},
	"a rate limit refilling every 49.9ms on a route": {"local_ratelimit.fill-interval", func(t *testing.T, broken bool) *translate.Resources {
		r := base(t)
		rl := rateLimit(pick(broken, 49900*time.Microsecond, time.Second))
		firstRoute(r).TypedPerFilterConfig = map[string]*anypb.Any{"envoy.filters.http.local_ratelimit": mustAny(t, rl)}
		return r
	}},
	"a scope without a route configuration name": {"srds.route-configuration-name", func(t *testing.T, broken bool) *translate.Resources {
		r := scopedBase(t, 0, ":")
		r.ScopedRoutes[0].RouteConfigurationName = pick(broken, "", r.ScopedRoutes[0].RouteConfigurationName)
		return r
	}},
	"two scopes with one key": {"srds.key-conflict", func(t *testing.T, broken bool) *translate.Resources {
		r := scopedBase(t, 0, ":")
		r.ScopedRoutes = append(r.ScopedRoutes, scope("outbound_http|web2", pick(broken, "web", "web2"), "outbound_http|web"))
		return r
	}},
	"a scope key taken past index 0 without a separator": {"srds.header-value-extractor", func(t *testing.T, broken bool) *translate.Resources {
		return scopedBase(t, 1, pick(broken, "", ":"))
	}},
	"a scope key with more fragments than the builder makes": {"srds.key-fragments", func(t *testing.T, broken bool) *translate.Resources {
		r := scopedBase(t, 0, ":")
		if broken {
			f := r.ScopedRoutes[0].Key.Fragments
			r.ScopedRoutes[0].Key.Fragments = append(f, f[0])
		}
		return r
	}},
	"a large regex in a route match": {"regex.program-size", func(t *testing.T, broken bool) *translate.Resources {
		r := base(t)
		firstRoute(r).Match.PathSpecifier = &route.RouteMatch_SafeRegex{SafeRegex: &matcher.RegexMatcher{Regex: pick(broken, "/[0-9a-f]{64}", "/[0-9a-f]+")}}
		return r
	}},
}

// weighted is the base set with its route split over two clusters.
func weighted(t *testing.T, a, b uint32) *translate.Resources {
	r := base(t)
	r.Clusters = append(r.Clusters, edsCluster("c2"))
	firstRoute(r).GetRoute().ClusterSpecifier = &route.RouteAction_WeightedClusters{WeightedClusters: &route.WeightedCluster{Clusters: []*route.WeightedCluster_ClusterWeight{
		{Name: "c1", Weight: wrapperspb.UInt32(a)}, {Name: "c2", Weight: wrapperspb.UInt32(b)},
	}}}
	return r
}

// TestProbes builds, for every rule, a set that breaks it and checks the
// checker refuses it under that rule's id with Envoy's text, then the same
// set with the one value fixed and checks it passes.
func TestProbes(t *testing.T) {
	envoyText := map[string]string{}
	for _, r := range envoyrules.Rules() {
		envoyText[r.ID] = r.EnvoyError
	}
	for name, p := range probes {
		t.Run(name, func(t *testing.T) {
			if _, ok := envoyText[p.rule]; !ok {
				t.Fatalf("probe of unknown rule %s", p.rule)
			}
			vs := envoyrules.Check(p.build(t, true))
			if len(vs) != 1 || vs[0].Rule != p.rule {
				t.Fatalf("broken set: want one %s violation, got %v", p.rule, vs)
			}
			if !sameShape(vs[0].Envoy, envoyText[p.rule]) {
				t.Errorf("violation text %q does not read as Envoy's %q", vs[0].Envoy, envoyText[p.rule])
			}
			if vs := envoyrules.Check(p.build(t, false)); len(vs) != 0 {
				t.Fatalf("fixed set refused: %v", vs)
			}
		})
	}
}

// sameShape says text is one of the alternatives of pattern (split on
// " / ") with each {} filled in.
func sameShape(text, pattern string) bool {
	for _, alt := range strings.Split(pattern, " / ") {
		parts := strings.Split(alt, "{}")
		rest, ok := strings.CutPrefix(text, parts[0])
		for _, p := range parts[1:] {
			if !ok {
				break
			}
			i := strings.Index(rest, p)
			if p == "" {
				i = len(rest)
			}
			ok = i >= 0
			if ok {
				rest = rest[i+len(p):]
			}
		}
		if ok && rest == "" {
			return true
		}
	}
	return false
}

// TestEveryRuleProbed keeps the rule list and the probes in step: a rule
// without a probe is a rule nobody has seen refuse anything.
func TestEveryRuleProbed(t *testing.T) {
	probed := map[string]bool{}
	for _, p := range probes {
		probed[p.rule] = true
	}
	seen := map[string]bool{}
	for _, r := range envoyrules.Rules() {
		if seen[r.ID] {
			t.Errorf("rule id %s used twice", r.ID)
		}
		seen[r.ID] = true
		if !probed[r.ID] {
			t.Errorf("rule %s has no probe", r.ID)
		}
		if !strings.HasPrefix(r.Source, "source/") || r.EnvoyError == "" {
			t.Errorf("rule %s does not name its Envoy source and error", r.ID)
		}
	}
}

// TestBaseSetPasses guards the probes: the set they start from is clean.
func TestBaseSetPasses(t *testing.T) {
	if vs := envoyrules.Check(base(t)); len(vs) != 0 {
		t.Fatal(vs)
	}
}

// TestVisitorMatchesCheckResource checks that the rules run inside
// package validate's walk (as the xDS cache runs them) find exactly what
// CheckResource finds with a walk of its own, paths included.
func TestVisitorMatchesCheckResource(t *testing.T) {
	for name, p := range probes {
		r := p.build(t, true)
		each := func(typ, n string, m proto.Message) {
			var shared envoyrules.Violations
			validate.Resource(typ, n, m, envoyrules.Visitor(typ, n, &shared))
			if own := envoyrules.CheckResource(typ, n, m); !slices.Equal(shared, own) {
				t.Errorf("%s: %s %s: in validate's walk %v, on its own %v", name, typ, n, shared, own)
			}
		}
		for _, l := range r.Listeners {
			each("Listener", l.GetName(), l)
		}
		for _, rc := range r.Routes {
			each("RouteConfiguration", rc.GetName(), rc)
		}
		for _, c := range r.Clusters {
			each("Cluster", c.GetName(), c)
		}
		for _, sc := range r.ScopedRoutes {
			each("ScopedRouteConfiguration", sc.GetName(), sc)
		}
	}
}
