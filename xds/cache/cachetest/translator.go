// Package cachetest holds a fake Translator for tests of the xDS cache and
// server: small real Envoy resources whose content tests can change, and
// counters of how often each translation ran; and the nodes and the mesh of
// an agent's workload that tests of both packages send.
package cachetest

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/translate"
)

// ProxylessListeners is how many listeners the fake serves proxyless nodes.
const ProxylessListeners = 5

// Translator is a fake cache.Translator, implementing all of it. Outbound
// serves one listener, one route "web", and a cluster and load assignment
// per entry of its port table ("web" and "db" to start with); Inbound
// serves one listener named after the proxy's namespace, so proxies of one
// namespace share a shape; ProxylessClient serves ProxylessListeners
// listeners; ProxylessServer serves one server listener named after the
// proxy's namespace; AuthzBundles serves none, as the fake knows no
// policies. It is safe for concurrent use.
type Translator struct {
	mu    sync.Mutex
	ports map[string]uint32

	outbound, inbound, proxyless atomic.Int64
}

// New returns a fake with load assignments web:8080 and db:5432.
func New() *Translator {
	return &Translator{ports: map[string]uint32{"web": 8080, "db": 5432}}
}

// SetPort changes (or adds) the endpoint port of one load assignment, so
// the next translation differs in that resource only.
func (f *Translator) SetPort(name string, port uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ports[name] = port
}

// OutboundCalls counts Outbound translations.
func (f *Translator) OutboundCalls() int64 { return f.outbound.Load() }

// InboundCalls counts Inbound translations.
func (f *Translator) InboundCalls() int64 { return f.inbound.Load() }

// ProxylessCalls counts ProxylessClient translations.
func (f *Translator) ProxylessCalls() int64 { return f.proxyless.Load() }

// Outbound implements cache.Translator.
func (f *Translator) Outbound(*mesh.Snapshot) *translate.Resources {
	f.outbound.Add(1)
	r := f.services()
	r.Listeners = []*listener.Listener{Listener("outbound", 15001)}
	return r
}

// ProxylessServer implements cache.Translator.
func (f *Translator) ProxylessServer(_ *mesh.Snapshot, p translate.Proxy) *translate.Resources {
	return &translate.Resources{Listeners: []*listener.Listener{Listener("server|"+p.Namespace, 15008)}}
}

// AuthzBundles implements cache.Translator.
func (f *Translator) AuthzBundles(*mesh.Snapshot, translate.Proxy) *translate.Resources {
	return &translate.Resources{}
}

// Inbound implements cache.Translator.
func (f *Translator) Inbound(_ *mesh.Snapshot, p translate.Proxy) *translate.Resources {
	f.inbound.Add(1)
	return &translate.Resources{Listeners: []*listener.Listener{Listener("inbound|"+p.Namespace, 15006)}}
}

// ProxylessClient implements cache.Translator.
func (f *Translator) ProxylessClient(*mesh.Snapshot) *translate.Resources {
	f.proxyless.Add(1)
	r := f.services()
	// Proxyless listeners bind nothing (gRPC reads them as api_listeners),
	// so they carry no address: several at one address would be refused
	// before serving.
	for i := range ProxylessListeners {
		r.Listeners = append(r.Listeners, &listener.Listener{Name: ProxylessListenerName(i)})
	}
	return r
}

// ProxylessListenerName is the name of the fake's i-th proxyless listener.
func ProxylessListenerName(i int) string { return fmt.Sprintf("svc-%d.default:80", i) }

func (f *Translator) services() *translate.Resources {
	f.mu.Lock()
	names := make([]string, 0, len(f.ports))
	for n := range f.ports {
		names = append(names, n)
	}
	sort.Strings(names)
	r := &translate.Resources{Routes: []*route.RouteConfiguration{{
		Name:         "web",
		VirtualHosts: []*route.VirtualHost{{Name: "web", Domains: []string{"web"}}},
	}}}
	for _, n := range names {
		r.Clusters = append(r.Clusters, &cluster.Cluster{
			Name:                 n,
			ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_EDS},
			EdsClusterConfig: &cluster.Cluster_EdsClusterConfig{
				EdsConfig: &core.ConfigSource{ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}}},
			},
		})
		r.Endpoints = append(r.Endpoints, LoadAssignment(n, f.ports[n]))
	}
	f.mu.Unlock()
	return r
}

// Listener is a listener on 127.0.0.1:port.
func Listener(name string, port uint32) *listener.Listener {
	return &listener.Listener{Name: name, Address: socket(port)}
}

// LoadAssignment is a load assignment with one endpoint at 127.0.0.1:port.
func LoadAssignment(name string, port uint32) *endpoint.ClusterLoadAssignment {
	return &endpoint.ClusterLoadAssignment{
		ClusterName: name,
		Endpoints: []*endpoint.LocalityLbEndpoints{{
			LbEndpoints: []*endpoint.LbEndpoint{{HostIdentifier: &endpoint.LbEndpoint_Endpoint{
				Endpoint: &endpoint.Endpoint{Address: socket(port)},
			}}},
		}},
	}
}

func socket(port uint32) *core.Address {
	return &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
		Address: "127.0.0.1", PortSpecifier: &core.SocketAddress_PortValue{PortValue: port},
	}}}
}
