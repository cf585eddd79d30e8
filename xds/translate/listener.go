package translate

import (
	"sort"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	router "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
)

// Well-known filter names Envoy and gRPC look filters up by.
const (
	httpConnectionManagerFilter = "envoy.filters.network.http_connection_manager"
	tcpProxyName                = "envoy.filters.network.tcp_proxy"
	routerFilter                = "envoy.filters.http.router"
)

// httpConnectionManager builds an HCM whose HTTP filters are filters, in
// order, then the router; gRPC refuses an HCM whose filters do not end
// with the router. routes is either an RDS name over ADS or an inline
// config.
func httpConnectionManager(statPrefix, rdsName string, inline *route.RouteConfiguration, filters ...*hcm.HttpFilter) *hcm.HttpConnectionManager {
	out := &hcm.HttpConnectionManager{
		StatPrefix: statPrefix,
		CodecType:  hcm.HttpConnectionManager_AUTO,
		HttpFilters: append(append([]*hcm.HttpFilter(nil), filters...), &hcm.HttpFilter{
			Name:       routerFilter,
			ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: toAny(&router.Router{})},
		}),
	}
	if inline != nil {
		out.RouteSpecifier = &hcm.HttpConnectionManager_RouteConfig{RouteConfig: inline}
	} else {
		out.RouteSpecifier = &hcm.HttpConnectionManager_Rds{Rds: &hcm.Rds{ConfigSource: adsConfigSource(), RouteConfigName: rdsName}}
	}
	return out
}

// tcpProxy builds a TCP proxy to one cluster.
func tcpProxy(statPrefix, clusterName string) *tcp.TcpProxy {
	return &tcp.TcpProxy{StatPrefix: statPrefix, ClusterSpecifier: &tcp.TcpProxy_Cluster{Cluster: clusterName}}
}

// hcmFilter wraps an HTTP connection manager as a listener filter.
func hcmFilter(h *hcm.HttpConnectionManager) *listener.Filter {
	return &listener.Filter{Name: httpConnectionManagerFilter, ConfigType: &listener.Filter_TypedConfig{TypedConfig: toAny(h)}}
}

// tcpProxyFilter wraps a TCP proxy as a listener filter.
func tcpProxyFilter(t *tcp.TcpProxy) *listener.Filter {
	return &listener.Filter{Name: tcpProxyName, ConfigType: &listener.Filter_TypedConfig{TypedConfig: toAny(t)}}
}

// listenerWithFilter builds a listener on address:port with one filter
// chain holding one network filter.
func listenerWithFilter(name, address string, port uint32, f *listener.Filter, ts *core.TransportSocket) *listener.Listener {
	return &listener.Listener{
		Name:         name,
		Address:      socketAddress(address, port),
		FilterChains: []*listener.FilterChain{{Filters: []*listener.Filter{f}, TransportSocket: ts}},
	}
}

// sortListeners orders listeners by name.
func sortListeners(ls []*listener.Listener) {
	sort.SliceStable(ls, func(i, j int) bool { return ls[i].GetName() < ls[j].GetName() })
}
