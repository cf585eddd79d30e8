package rbac

import (
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	rbacfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// FilterName is the name of Envoy's HTTP RBAC filter, which proxyless gRPC
// servers also run.
const FilterName = "envoy.filters.http.rbac"

// HTTPFilter wraps r in the HTTP RBAC filter, to sit before the router in
// an HttpConnectionManager's http_filters.
func HTTPFilter(r *rbacv3.RBAC) (*hcm.HttpFilter, error) {
	cfg, err := anypb.New(&rbacfilterv3.RBAC{Rules: r})
	if err != nil {
		return nil, err
	}
	return &hcm.HttpFilter{
		Name:       FilterName,
		ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: cfg},
	}, nil
}
