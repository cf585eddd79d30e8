package api

import (
	"testing"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"embassy.dev/embassy/pkg/status"
)

// TestConfigDumpOfScopes: a sidecar's scopes dump as Envoy's own config
// dump shows them, one dynamic scoped routes config of every scope held;
// a removed one is left out.
func TestConfigDumpOfScopes(t *testing.T) {
	a, err := anypb.New(&route.ScopedRouteConfiguration{Name: "outbound_http|web.default", RouteConfigurationName: "outbound_http|web.default"})
	if err != nil {
		t.Fatal(err)
	}
	st := status.ServedType{TypeURL: resourcev3.ScopedRouteType, Version: "v1", Resources: []status.ServedResource{
		{Name: "outbound_http|web.default", Version: "h1", Resource: a},
		{Name: "outbound_http|gone.default", Version: "h2"},
	}}
	d, ok := configDumpOf(st).(*adminv3.ScopedRoutesConfigDump)
	if !ok || len(d.GetDynamicScopedRouteConfigs()) != 1 {
		t.Fatalf("dump = %v, want one dynamic scoped routes config", configDumpOf(st))
	}
	dc := d.GetDynamicScopedRouteConfigs()[0]
	if dc.GetVersionInfo() != "v1" || len(dc.GetScopedRouteConfigs()) != 1 || dc.GetScopedRouteConfigs()[0] != a {
		t.Errorf("dynamic scoped routes config %v; want version v1 and the one held scope", dc)
	}
}
