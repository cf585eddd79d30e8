package server

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"embassy.dev/embassy/xds/cache"
)

// dependents maps a type Envoy asks for in full to the type its resources
// make it subscribe to by name.
var dependents = map[string]string{resourcev3.ListenerType: resourcev3.RouteType, resourcev3.ClusterType: resourcev3.EndpointType}

// envoyClient speaks ADS the way Envoy does, over a real stream: Listener
// and Cluster by wildcard, route configurations and load assignments by
// the names its listeners and clusters use. By state of the world it
// replaces what it holds of Listener and Cluster with each response and
// adds each response of the other types to what it holds; by delta it
// applies each response's changes. It drops what it unsubscribes from.
type envoyClient struct {
	node  *core.Node
	delta bool

	mu      sync.Mutex
	held    map[string]map[string]*anypb.Any
	sub     map[string][]string
	version map[string]string
	nonce   map[string]string
	err     error
	send    func(typeURL string, names, added, dropped []string, ack bool) error
	cancel  context.CancelFunc
	stopped chan struct{}
}

func newEnvoyClient(id string, delta bool) *envoyClient {
	return &envoyClient{node: &core.Node{Id: id, UserAgentName: "envoy"}, delta: delta, version: map[string]string{}}
}

// connect opens a new stream; what the client held is forgotten (as by a
// restarted Envoy) but the versions it last accepted are sent, so a
// server that answered a new stream with changes only would leave it
// short.
func (c *envoyClient) connect(t *testing.T, h *harness) {
	t.Helper()
	c.close()
	ctx, cancel := context.WithCancel(context.Background())
	c.mu.Lock()
	c.held = map[string]map[string]*anypb.Any{}
	c.sub, c.nonce = map[string][]string{}, map[string]string{}
	c.cancel, c.stopped = cancel, make(chan struct{})
	c.mu.Unlock()
	open := c.openSotW
	if c.delta {
		open = c.openDelta
	}
	recv := open(t, ctx, h)
	c.mu.Lock()
	for _, typ := range []string{resourcev3.ListenerType, resourcev3.ClusterType} {
		if err := c.send(typ, nil, nil, nil, false); err != nil {
			t.Fatal(err)
		}
	}
	c.mu.Unlock()
	go func() {
		defer close(c.stopped)
		for {
			if err := recv(); err != nil {
				if ctx.Err() == nil {
					c.mu.Lock()
					c.err = err
					c.mu.Unlock()
				}
				return
			}
		}
	}()
}

// openSotW opens a SotW stream, sets how the client sends on it, and
// returns how it reads the next response.
func (c *envoyClient) openSotW(t *testing.T, ctx context.Context, h *harness) func() error {
	s, err := h.ads.StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.send = func(typeURL string, names, _, _ []string, _ bool) error {
		return s.Send(&discovery.DiscoveryRequest{Node: c.node, TypeUrl: typeURL, VersionInfo: c.version[typeURL], ResponseNonce: c.nonce[typeURL], ResourceNames: names})
	}
	return func() error {
		resp, err := s.Recv()
		if err != nil {
			return err
		}
		return c.onSotW(resp)
	}
}

// openDelta is openSotW for a delta stream.
func (c *envoyClient) openDelta(t *testing.T, ctx context.Context, h *harness) func() error {
	s, err := h.ads.DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.send = func(typeURL string, _, added, dropped []string, ack bool) error {
		req := &discovery.DeltaDiscoveryRequest{Node: c.node, TypeUrl: typeURL, ResourceNamesSubscribe: added, ResourceNamesUnsubscribe: dropped}
		if ack {
			req.ResponseNonce = c.nonce[typeURL]
		}
		return s.Send(req)
	}
	return func() error {
		resp, err := s.Recv()
		if err != nil {
			return err
		}
		return c.onDelta(resp)
	}
}

// close ends the client's stream, if any, and waits for its reader.
func (c *envoyClient) close() {
	if c.cancel != nil {
		c.cancel()
		<-c.stopped
		c.cancel = nil
	}
}

func (c *envoyClient) onSotW(resp *discovery.DiscoveryResponse) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	typ := resp.GetTypeUrl()
	if cache.CompleteInSotW(typ) || c.held[typ] == nil {
		c.held[typ] = map[string]*anypb.Any{}
	}
	for _, a := range resp.GetResources() {
		c.held[typ][cache.ResourceName(a)] = a
	}
	c.version[typ], c.nonce[typ] = resp.GetVersionInfo(), resp.GetNonce()
	if err := c.send(typ, c.sub[typ], nil, nil, true); err != nil {
		return err
	}
	return c.resubscribe(typ)
}

func (c *envoyClient) onDelta(resp *discovery.DeltaDiscoveryResponse) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	typ := resp.GetTypeUrl()
	if c.held[typ] == nil {
		c.held[typ] = map[string]*anypb.Any{}
	}
	for _, r := range resp.GetResources() {
		c.held[typ][r.GetName()] = r.GetResource()
	}
	for _, n := range resp.GetRemovedResources() {
		delete(c.held[typ], n)
	}
	c.nonce[typ] = resp.GetNonce()
	if err := c.send(typ, nil, nil, nil, true); err != nil {
		return err
	}
	return c.resubscribe(typ)
}

// resubscribe follows a change of Listener or Cluster into the names of
// the type that depends on it.
func (c *envoyClient) resubscribe(typ string) error {
	dep, ok := dependents[typ]
	if !ok {
		return nil
	}
	names := map[string]bool{}
	for _, a := range c.held[typ] {
		for _, n := range referenced(a) {
			names[n] = true
		}
	}
	now := slices.Sorted(maps.Keys(names))
	was := c.sub[dep]
	if slices.Equal(now, was) {
		return nil
	}
	var added, dropped []string
	for _, n := range now {
		if !slices.Contains(was, n) {
			added = append(added, n)
		}
	}
	for _, n := range was {
		if !names[n] {
			dropped = append(dropped, n)
			delete(c.held[dep], n)
		}
	}
	c.sub[dep] = now
	return c.send(dep, now, added, dropped, false)
}

// referenced returns the route configurations a Listener's connection
// managers load over RDS, or the load assignment an EDS Cluster uses.
func referenced(a *anypb.Any) []string {
	m, err := a.UnmarshalNew()
	if err != nil {
		return nil
	}
	switch r := m.(type) {
	case *cluster.Cluster:
		if r.GetType() != cluster.Cluster_EDS {
			return nil
		}
		if n := r.GetEdsClusterConfig().GetServiceName(); n != "" {
			return []string{n}
		}
		return []string{r.GetName()}
	case *listener.Listener:
		var out []string
		for _, fc := range append(slices.Clone(r.GetFilterChains()), r.GetDefaultFilterChain()) {
			for _, f := range fc.GetFilters() {
				var m hcm.HttpConnectionManager
				if f.GetTypedConfig().UnmarshalTo(&m) == nil && m.GetRds().GetRouteConfigName() != "" {
					out = append(out, m.GetRds().GetRouteConfigName())
				}
			}
		}
		return out
	}
	return nil
}

// holds returns a copy of what the client holds, and its stream's error.
func (c *envoyClient) holds() (map[string]map[string]*anypb.Any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]map[string]*anypb.Any{}
	for typ, m := range c.held {
		out[typ] = maps.Clone(m)
	}
	return out, c.err
}
