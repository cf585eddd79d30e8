package translate_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/xds/translate"
)

// TestRouteChangeChangesOneRouteConfiguration: a change to one service's
// Route changes that service's RouteConfiguration and nothing else a
// sidecar holds of its routes or scopes, so a push sends one small
// RouteConfiguration.
func TestRouteChangeChangesOneRouteConfiguration(t *testing.T) {
	in := filepath.Join("testdata", "in", "routes-per-service.yaml")
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	// Unscoped, so the sidecar holds every service's routes.
	data = []byte(strings.Replace(string(data), ", configScoping: explicit", "", 1))
	changed := strings.Replace(string(data), "weight: 50}, {service: lb, weight: 50}", "weight: 20}, {service: lb, weight: 80}", 1)
	if changed == string(data) {
		t.Fatal("the input no longer has the split this test changes")
	}
	before := mesh.New(1, decodeYAML(t, in, data), mesh.WithAuthz(compileAuthz))
	after := mesh.New(2, decodeYAML(t, in, []byte(changed)), mesh.WithAuthz(compileAuthz))
	p := translate.Proxy{ID: "a-front.default", Flavour: translate.Envoy}
	b, _ := translate.ForProxy(before, p)
	a, _ := translate.ForProxy(after, p)

	if len(b.Routes) < 4 || len(a.Routes) != len(b.Routes) {
		t.Fatalf("%d route configurations before, %d after; want the same number, at least 4", len(b.Routes), len(a.Routes))
	}
	var diff []string
	for i := range b.Routes {
		if !proto.Equal(b.Routes[i], a.Routes[i]) {
			diff = append(diff, a.Routes[i].GetName())
		}
	}
	if want := []string{"outbound_http|greet.default"}; !slices.Equal(diff, want) {
		t.Errorf("changed route configurations = %q, want %q", diff, want)
	}
	if !slices.EqualFunc(b.ScopedRoutes, a.ScopedRoutes, func(x, y *route.ScopedRouteConfiguration) bool { return proto.Equal(x, y) }) {
		t.Error("the scopes changed with a route")
	}
}

// TestEverySidecarRouteHasItsScope: each of a sidecar's outbound
// RouteConfigurations is selected by one scope keyed by its service's
// host, the one Host (before ':') apps send, and the listener takes its
// scopes over Scoped RDS keyed by that part of :authority.
func TestEverySidecarRouteHasItsScope(t *testing.T) {
	s := loadSnapshot(t, yamlFiles(t, filepath.Join("..", "..", "examples", "bookstore"))...)
	s.Mesh.SidecarRoutes = resource.RoutesPerService
	r, _ := translate.Outbound(s)
	if len(r.ScopedRoutes) == 0 || len(r.ScopedRoutes) != len(r.Routes) {
		t.Fatalf("%d scopes for %d route configurations", len(r.ScopedRoutes), len(r.Routes))
	}
	for i, sc := range r.ScopedRoutes {
		rc := r.Routes[i]
		key := sc.GetKey().GetFragments()[0].GetStringKey()
		if sc.GetRouteConfigurationName() != rc.GetName() || rc.GetName() != translate.OutboundHTTPName+"|"+key {
			t.Errorf("scope %s (key %q) names %q beside route configuration %s", sc.GetName(), key, sc.GetRouteConfigurationName(), rc.GetName())
		}
		for _, vh := range rc.GetVirtualHosts() {
			for _, d := range vh.GetDomains() {
				if host, _, _ := strings.Cut(d, ":"); host != key {
					t.Errorf("route configuration %s serves domain %q, which its scope's key %q does not select", rc.GetName(), d, key)
				}
			}
		}
	}
	h := outboundHCM(t, r)
	x := h.GetScopedRoutes().GetScopeKeyBuilder().GetFragments()[0].GetHeaderValueExtractor()
	if h.GetScopedRoutes().GetScopedRds() == nil || x.GetName() != ":authority" || x.GetElementSeparator() != ":" || x.GetIndex() != 0 {
		t.Errorf("outbound HCM does not take scopes over SRDS keyed by the authority's host: %v", h.GetScopedRoutes())
	}
}

// outboundHCM is the HTTP connection manager of the outbound listener.
func outboundHCM(t *testing.T, r *translate.Resources) *hcm.HttpConnectionManager {
	t.Helper()
	for _, l := range r.Listeners {
		if l.GetName() != translate.OutboundHTTPName {
			continue
		}
		h := &hcm.HttpConnectionManager{}
		if err := l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	t.Fatal("no outbound_http listener")
	return nil
}

// TestScopeKeepsScopesOfVisibleServices: a scoped sidecar holds the
// scopes and RouteConfigurations of the services it sees, whole and
// shared, and none of the others, so a request for one it does not see
// finds no scope (a 404).
func TestScopeKeepsScopesOfVisibleServices(t *testing.T) {
	s := loadSnapshot(t, filepath.Join("testdata", "in", "routes-per-service.yaml"))
	shared, _ := translate.Outbound(s)
	r := translate.Scope(s, shared, s.Visible(s.Workload("default", "a-front")))
	want := []string{"outbound_http|greet.default", "outbound_http|hammer.tools", "outbound_http|lb.default"}
	var scopes, routes []string
	for _, sc := range r.ScopedRoutes {
		scopes = append(scopes, sc.GetName())
		if !slices.Contains(shared.ScopedRoutes, sc) {
			t.Errorf("scope %s was rebuilt", sc.GetName())
		}
	}
	for _, rc := range r.Routes {
		routes = append(routes, rc.GetName())
		if !slices.Contains(shared.Routes, rc) {
			t.Errorf("route configuration %s was rebuilt", rc.GetName())
		}
	}
	if !slices.Equal(scopes, want) || !slices.Equal(routes, want) {
		t.Errorf("scopes %q, route configurations %q; want both %q", scopes, routes, want)
	}
}

// TestSharedRoutesAreOneRouteConfiguration: by default (spec.sidecarRoutes
// unset) a sidecar's outbound listener takes one RouteConfiguration over
// RDS holding every service's virtual hosts, and no scopes.
func TestSharedRoutesAreOneRouteConfiguration(t *testing.T) {
	s := loadSnapshot(t, yamlFiles(t, filepath.Join("..", "..", "examples", "bookstore"))...)
	r, _ := translate.Outbound(s)
	if len(r.Routes) != 1 || r.Routes[0].GetName() != translate.OutboundHTTPName || len(r.ScopedRoutes) != 0 {
		t.Fatalf("%d route configurations (first %q) and %d scopes; want one %q and none", len(r.Routes), r.Routes[0].GetName(), len(r.ScopedRoutes), translate.OutboundHTTPName)
	}
	if got := outboundHCM(t, r).GetRds().GetRouteConfigName(); got != translate.OutboundHTTPName {
		t.Errorf("outbound HCM takes RDS %q, want %q", got, translate.OutboundHTTPName)
	}
}
