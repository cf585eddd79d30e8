package bench

import (
	"fmt"
	"hash/maphash"
	"sort"
	"sync"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// The xDS types a simulated Envoy sidecar asks for, in the order it asks.
const (
	TypeClusters     = resourcev3.ClusterType
	TypeListeners    = resourcev3.ListenerType
	TypeScopedRoutes = resourcev3.ScopedRouteType
	TypeEndpoints    = resourcev3.EndpointType
	TypeRoutes       = resourcev3.RouteType
)

var hcmTypeURL = "type.googleapis.com/" + string((&hcmv3.HttpConnectionManager{}).ProtoReflect().Descriptor().FullName())

// resourceName reads field 1 of an Envoy resource, which is its name in
// every type a sidecar receives over SotW (Cluster.name, Listener.name,
// ScopedRouteConfiguration.name, RouteConfiguration.name,
// ClusterLoadAssignment.cluster_name), without
// decoding the rest of it.
func resourceName(b []byte) (string, error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", protowire.ParseError(n)
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return "", protowire.ParseError(n)
			}
			return string(v), nil
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return "", protowire.ParseError(n)
		}
		b = b[n:]
	}
	return "", fmt.Errorf("resource has no name")
}

// decoder turns resource bytes into the few facts a simulated proxy needs
// (a cluster's EDS name, a listener's RDS names). Hundreds of proxies
// receive the same bytes, so it decodes each distinct resource once.
type decoder struct {
	seed maphash.Seed
	mu   sync.Mutex
	// refs maps a content hash to the names the resource makes the proxy
	// subscribe to.
	refs map[uint64][]string
	// names interns resource names so proxies share one copy of each.
	names map[string]string
}

func newDecoder() *decoder {
	return &decoder{seed: maphash.MakeSeed(), refs: map[uint64][]string{}, names: map[string]string{}}
}

func (d *decoder) hash(b []byte) uint64 { return maphash.Bytes(d.seed, b) }

func (d *decoder) intern(s string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if v, ok := d.names[s]; ok {
		return v
	}
	d.names[s] = s
	return s
}

// references returns the EDS (for a Cluster) or RDS (for a Listener or a
// scope) names the resource refers to.
func (d *decoder) references(typeURL string, h uint64, b []byte) ([]string, error) {
	if _, ok := dependent[typeURL]; !ok {
		return nil, nil
	}
	d.mu.Lock()
	refs, ok := d.refs[h]
	d.mu.Unlock()
	if ok {
		return refs, nil
	}
	var err error
	switch typeURL {
	case TypeClusters:
		refs, err = clusterRefs(b)
	case TypeListeners:
		refs, err = listenerRefs(b)
	default:
		refs, err = scopeRefs(b)
	}
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.refs[h] = refs
	d.mu.Unlock()
	return refs, nil
}

func clusterRefs(b []byte) ([]string, error) {
	var c clusterv3.Cluster
	if err := proto.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("decoding a Cluster: %w", err)
	}
	if c.GetType() != clusterv3.Cluster_EDS {
		return nil, nil
	}
	if n := c.GetEdsClusterConfig().GetServiceName(); n != "" {
		return []string{n}, nil
	}
	return []string{c.GetName()}, nil
}

func listenerRefs(b []byte) ([]string, error) {
	var l listenerv3.Listener
	if err := proto.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("decoding a Listener: %w", err)
	}
	var anys []*anypb.Any
	if a := l.GetApiListener().GetApiListener(); a != nil {
		anys = append(anys, a)
	}
	chains := append([]*listenerv3.FilterChain{l.GetDefaultFilterChain()}, l.GetFilterChains()...)
	for _, fc := range chains {
		for _, f := range fc.GetFilters() {
			if tc := f.GetTypedConfig(); tc != nil {
				anys = append(anys, tc)
			}
		}
	}
	var refs []string
	for _, a := range anys {
		if a.GetTypeUrl() != hcmTypeURL {
			continue
		}
		var hcm hcmv3.HttpConnectionManager
		if err := proto.Unmarshal(a.GetValue(), &hcm); err != nil {
			return nil, fmt.Errorf("listener %s: decoding its HttpConnectionManager: %w", l.GetName(), err)
		}
		if n := hcm.GetRds().GetRouteConfigName(); n != "" {
			refs = append(refs, n)
		}
	}
	sort.Strings(refs)
	return refs, nil
}

// scopeRefs is the RouteConfiguration a scope selects, which Envoy then
// subscribes to over RDS.
func scopeRefs(b []byte) ([]string, error) {
	var s routev3.ScopedRouteConfiguration
	if err := proto.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decoding a ScopedRouteConfiguration: %w", err)
	}
	if n := s.GetRouteConfigurationName(); n != "" {
		return []string{n}, nil
	}
	return nil, nil
}

// cachedRefs returns the references of an already decoded resource.
func (d *decoder) cachedRefs(h uint64) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.refs[h]
}
