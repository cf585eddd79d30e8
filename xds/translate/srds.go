package translate

import (
	"slices"
	"strings"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"embassy.dev/embassy/pkg/mesh"
)

// The sidecar's outbound HTTP listener picks a RouteConfiguration per
// request through Envoy's Scoped RDS: a route change then resends each
// sidecar one service's RouteConfiguration, not one holding every
// service's virtual hosts.
//
// Envoy keeps HTTP/1.1's Host header as :authority, as it does HTTP/2's
// :authority (http/headers.h: Host{":authority"}), so one extractor serves
// both; the part before ':' is the scope key, so "<svc>.<ns>" and
// "<svc>.<ns>:<port>" both select the service's scope, and its virtual
// hosts' domains then pick the port as they always did.
const (
	scopeKeyHeader    = ":authority"
	scopeKeySeparator = ":"
)

// OutboundRouteName names the RouteConfiguration of one service's
// outbound virtual hosts on an Envoy sidecar, and the
// ScopedRouteConfiguration that selects it: outbound_http|<svc>.<ns>.
func OutboundRouteName(ref mesh.ServiceRef) string {
	return OutboundHTTPName + "|" + ref.String()
}

// outboundScope is the ScopedRouteConfiguration that sends requests whose
// authority is <svc>.<ns>[:<port>] to the service's RouteConfiguration.
func outboundScope(ref mesh.ServiceRef) *route.ScopedRouteConfiguration {
	name := OutboundRouteName(ref)
	return &route.ScopedRouteConfiguration{
		Name:                   name,
		RouteConfigurationName: name,
		Key: &route.ScopedRouteConfiguration_Key{Fragments: []*route.ScopedRouteConfiguration_Key_Fragment{{
			Type: &route.ScopedRouteConfiguration_Key_Fragment_StringKey{StringKey: ref.String()},
		}}},
	}
}

// scopedRoutes is the outbound HCM's route specifier: scopes over ADS
// (Envoy subscribes to them as a wildcard), keyed by the authority's host,
// each naming a RouteConfiguration also fetched over ADS.
func scopedRoutes() *hcm.HttpConnectionManager_ScopedRoutes {
	return &hcm.HttpConnectionManager_ScopedRoutes{ScopedRoutes: &hcm.ScopedRoutes{
		Name: OutboundHTTPName,
		ScopeKeyBuilder: &hcm.ScopedRoutes_ScopeKeyBuilder{Fragments: []*hcm.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder{{
			Type: &hcm.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder_HeaderValueExtractor_{HeaderValueExtractor: &hcm.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder_HeaderValueExtractor{
				Name:             scopeKeyHeader,
				ElementSeparator: scopeKeySeparator,
				ExtractType:      &hcm.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder_HeaderValueExtractor_Index{Index: 0},
			}},
		}}},
		RdsConfigSource: adsConfigSource(),
		ConfigSpecifier: &hcm.ScopedRoutes_ScopedRds{ScopedRds: &hcm.ScopedRds{ScopedRdsConfigSource: adsConfigSource()}},
	}}
}

// sortScopes orders scoped route configurations by name.
func sortScopes(ss []*route.ScopedRouteConfiguration) {
	slices.SortStableFunc(ss, func(a, b *route.ScopedRouteConfiguration) int { return strings.Compare(a.GetName(), b.GetName()) })
}
