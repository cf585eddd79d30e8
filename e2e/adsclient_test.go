package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"testing"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"

	"embassy.dev/embassy/internal/grpctest"
	"embassy.dev/embassy/xds/translate"
)

// fetched is everything an ADS client was served, by type.
type fetched struct {
	listeners map[string]*listener.Listener
	routes    map[string]*route.RouteConfiguration
	scopes    map[string]*route.ScopedRouteConfiguration
	clusters  map[string]*cluster.Cluster
	endpoints map[string]*endpoint.ClusterLoadAssignment
}

func newFetched() *fetched {
	return &fetched{map[string]*listener.Listener{}, map[string]*route.RouteConfiguration{}, map[string]*route.ScopedRouteConfiguration{},
		map[string]*cluster.Cluster{}, map[string]*endpoint.ClusterLoadAssignment{}}
}

// resources returns the fetched set in the translator's shape, sorted.
func (f *fetched) resources() *translate.Resources {
	r := &translate.Resources{}
	for _, k := range slices.Sorted(maps.Keys(f.listeners)) {
		r.Listeners = append(r.Listeners, f.listeners[k])
	}
	for _, k := range slices.Sorted(maps.Keys(f.routes)) {
		r.Routes = append(r.Routes, f.routes[k])
	}
	for _, k := range slices.Sorted(maps.Keys(f.scopes)) {
		r.ScopedRoutes = append(r.ScopedRoutes, f.scopes[k])
	}
	for _, k := range slices.Sorted(maps.Keys(f.clusters)) {
		r.Clusters = append(r.Clusters, f.clusters[k])
	}
	for _, k := range slices.Sorted(maps.Keys(f.endpoints)) {
		r.Endpoints = append(r.Endpoints, f.endpoints[k])
	}
	return r
}

// add decodes one served resource into the set; it returns its name.
func (f *fetched) add(a *anypb.Any) (string, error) {
	m, err := a.UnmarshalNew()
	if err != nil {
		return "", err
	}
	switch v := m.(type) {
	case *listener.Listener:
		f.listeners[v.GetName()] = v
		return v.GetName(), nil
	case *route.RouteConfiguration:
		f.routes[v.GetName()] = v
		return v.GetName(), nil
	case *route.ScopedRouteConfiguration:
		f.scopes[v.GetName()] = v
		return v.GetName(), nil
	case *cluster.Cluster:
		f.clusters[v.GetName()] = v
		return v.GetName(), nil
	case *endpoint.ClusterLoadAssignment:
		f.endpoints[v.GetClusterName()] = v
		return v.GetClusterName(), nil
	}
	return "", fmt.Errorf("unexpected resource type %s", a.GetTypeUrl())
}

// edsNames are the assignments the fetched clusters need.
func (f *fetched) edsNames() []string {
	var names []string
	for _, c := range f.clusters {
		if c.GetType() == cluster.Cluster_EDS {
			n := c.GetEdsClusterConfig().GetServiceName()
			if n == "" {
				n = c.GetName()
			}
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// rdsNames are the route configurations the fetched listeners and scopes
// name.
func (f *fetched) rdsNames() []string {
	seen := map[string]bool{}
	f.eachHCM(func(h *hcm.HttpConnectionManager) {
		if h.GetRds() != nil {
			seen[h.GetRds().GetRouteConfigName()] = true
		}
	})
	for _, sc := range f.scopes {
		seen[sc.GetRouteConfigurationName()] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// wantsScopes reports whether a fetched listener takes its routes over
// Scoped RDS, which makes Envoy subscribe to every scope (a wildcard).
func (f *fetched) wantsScopes() bool {
	scoped := false
	f.eachHCM(func(h *hcm.HttpConnectionManager) { scoped = scoped || h.GetScopedRoutes().GetScopedRds() != nil })
	return scoped
}

// eachHCM calls fn with every HTTP connection manager of the fetched
// listeners.
func (f *fetched) eachHCM(fn func(*hcm.HttpConnectionManager)) {
	visit := func(a *anypb.Any) {
		var h hcm.HttpConnectionManager
		if a != nil && a.MessageIs(&h) && a.UnmarshalTo(&h) == nil {
			fn(&h)
		}
	}
	for _, l := range f.listeners {
		visit(l.GetApiListener().GetApiListener())
		for _, fc := range l.GetFilterChains() {
			for _, nf := range fc.GetFilters() {
				visit(nf.GetTypedConfig())
			}
		}
	}
}

func envoyNode(id string, proxyless bool) *core.Node {
	flavour := "envoy"
	if proxyless {
		flavour = "proxyless"
	}
	md, _ := structpb.NewStruct(map[string]any{"embassy.flavour": flavour})
	return &core.Node{Id: id, Cluster: "e2e", Metadata: md}
}

func dialADS(t *testing.T, addr string) discovery.AggregatedDiscoveryServiceClient {
	t.Helper()
	cc := grpctest.Dial(t, addr)
	return discovery.NewAggregatedDiscoveryServiceClient(cc)
}

// fetchSotW behaves like Envoy on a state-of-the-world ADS stream: CDS and
// LDS wildcard, Scoped RDS wildcard once a listener takes scopes, then EDS
// and RDS for the names those return, ACKing every response, until every
// type has answered. With listenerNames it asks for
// those listeners only, as a proxyless gRPC client does.
func fetchSotW(t *testing.T, addr string, node *core.Node, listenerNames []string) *fetched {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	stream, err := dialADS(t, addr).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := newFetched()
	send := func(typeURL string, names []string, version, nonce string) {
		if err := stream.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: typeURL, ResourceNames: names, VersionInfo: version, ResponseNonce: nonce}); err != nil {
			t.Fatalf("send %s: %v", typeURL, err)
		}
	}
	subscribed := map[string][]string{}
	answered := map[string]bool{}
	subscribe := func(typ string, names []string) {
		subscribed[typ], answered[typ] = names, false
		send(typ, names, "", "")
	}
	if listenerNames == nil {
		subscribe(resource.ClusterType, nil)
	}
	subscribe(resource.ListenerType, listenerNames)
	allAnswered := func() bool {
		for _, ok := range answered {
			if !ok {
				return false
			}
		}
		return true
	}
	for !allAnswered() {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("ADS stream for %s ended before every type answered (answered %v): %v", node.GetId(), answered, err)
		}
		for _, a := range resp.GetResources() {
			if _, err := f.add(a); err != nil {
				t.Fatal(err)
			}
		}
		answered[resp.GetTypeUrl()] = true
		send(resp.GetTypeUrl(), subscribed[resp.GetTypeUrl()], resp.GetVersionInfo(), resp.GetNonce())
		// Follow the references, as Envoy and gRPC do.
		if _, asked := subscribed[resource.ScopedRouteType]; !asked && f.wantsScopes() {
			subscribe(resource.ScopedRouteType, nil)
		}
		if names := f.rdsNames(); len(names) > 0 && !equalNames(names, subscribed[resource.RouteType]) {
			subscribe(resource.RouteType, names)
		}
		if listenerNames != nil {
			if names := routeClusters(f); len(names) > 0 && !equalNames(names, subscribed[resource.ClusterType]) {
				subscribe(resource.ClusterType, names)
			}
		}
		if names := f.edsNames(); len(names) > 0 && !equalNames(names, subscribed[resource.EndpointType]) {
			subscribe(resource.EndpointType, names)
		}
	}
	return f
}

// routeClusters are the clusters the fetched route configurations name.
func routeClusters(f *fetched) []string {
	seen := map[string]bool{}
	for _, rc := range f.routes {
		for _, vh := range rc.GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				if c := r.GetRoute().GetCluster(); c != "" {
					seen[c] = true
				}
				for _, wc := range r.GetRoute().GetWeightedClusters().GetClusters() {
					seen[wc.GetName()] = true
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

func equalNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// fetchDelta does the same as fetchSotW over an incremental (Delta) stream.
func fetchDelta(t *testing.T, addr string, node *core.Node) *fetched {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	stream, err := dialADS(t, addr).DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := newFetched()
	send := func(req *discovery.DeltaDiscoveryRequest) {
		req.Node = node
		if err := stream.Send(req); err != nil {
			t.Fatalf("send %s: %v", req.GetTypeUrl(), err)
		}
	}
	send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType})
	send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ListenerType})
	subscribed := map[string]map[string]bool{resource.RouteType: {}, resource.EndpointType: {}}
	pending := map[string]bool{resource.ClusterType: true, resource.ListenerType: true}
	scopesAsked := false
	for len(pending) > 0 {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("Delta stream for %s ended with %v pending: %v", node.GetId(), pending, err)
		}
		for _, r := range resp.GetResources() {
			if _, err := f.add(r.GetResource()); err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range resp.GetRemovedResources() {
			if resp.GetTypeUrl() == resource.ScopedRouteType {
				delete(f.scopes, n)
			}
		}
		delete(pending, resp.GetTypeUrl())
		send(&discovery.DeltaDiscoveryRequest{TypeUrl: resp.GetTypeUrl(), ResponseNonce: resp.GetNonce()})
		if !scopesAsked && f.wantsScopes() {
			scopesAsked, pending[resource.ScopedRouteType] = true, true
			send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ScopedRouteType})
		}
		for typ, names := range map[string][]string{resource.RouteType: f.rdsNames(), resource.EndpointType: f.edsNames()} {
			var add []string
			for _, n := range names {
				if !subscribed[typ][n] {
					subscribed[typ][n] = true
					add = append(add, n)
				}
			}
			if len(add) > 0 {
				pending[typ] = true
				send(&discovery.DeltaDiscoveryRequest{TypeUrl: typ, ResourceNamesSubscribe: add})
			}
		}
	}
	return f
}
