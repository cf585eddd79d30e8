package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	"embassy.dev/embassy/xds/cache"
)

// Mode is the xDS protocol variant a simulated proxy speaks.
type Mode string

// The xDS protocol variants.
const (
	SotW  Mode = "sotw"
	Delta Mode = "delta"
)

// dependent maps a wildcard type to the type its resources make a proxy
// subscribe to by name, the way Envoy does: clusters to their endpoints,
// listeners (RDS) and scopes (Scoped RDS) to their route configurations.
var dependent = map[string]string{TypeClusters: TypeEndpoints, TypeListeners: TypeRoutes, TypeScopedRoutes: TypeRoutes}

// wildcards are the types a proxy subscribes to without names, in the
// order it asks. Envoy's Scoped RDS subscription is a wildcard
// (router/scoped_rds.cc); Envoy opens it when a listener names
// scoped_rds, the simulated proxy with the others when the mesh gives
// sidecars per-service routes.
func (p *proxy) wildcards() []string {
	if p.f.cfg.ScopedRoutes {
		return []string{TypeClusters, TypeListeners, TypeScopedRoutes}
	}
	return []string{TypeClusters, TypeListeners}
}

// heldTypes are every type a proxy holds.
var heldTypes = []string{TypeClusters, TypeListeners, TypeScopedRoutes, TypeEndpoints, TypeRoutes}

// typeState is what a proxy holds of one xDS type.
type typeState struct {
	version, nonce string
	acked          bool
	// sub is the sorted subscription of a by-name type (nil for wildcard).
	sub []string
	// res maps each held resource's name to a hash of its bytes.
	res map[string]uint64
}

// armState is a change the proxy is watching for.
type armState struct {
	seq           int
	typeURL, name string
	base          uint64
}

// item is one received resource.
type item struct {
	name string
	hash uint64
	refs []string
}

// proxy is one simulated Envoy sidecar on one ADS stream.
type proxy struct {
	f    *Fleet
	idx  int
	node *corev3.Node

	mu        sync.Mutex
	types     map[string]*typeState
	armed     *armState
	ready     bool
	responses int64
}

func newProxy(f *Fleet, idx int, id string) *proxy {
	meta, _ := structpb.NewStruct(map[string]any{flavourKey: "envoy"})
	p := &proxy{
		f:   f,
		idx: idx,
		node: &corev3.Node{
			Id:                   id,
			Cluster:              Namespace,
			Metadata:             meta,
			UserAgentName:        "envoy",
			UserAgentVersionType: &corev3.Node_UserAgentVersion{UserAgentVersion: "1.36.0"},
		},
		types: map[string]*typeState{},
	}
	for _, t := range heldTypes {
		p.types[t] = &typeState{res: map[string]uint64{}}
	}
	return p
}

// flavourKey is the node metadata key that tells embassy-cp which
// data-plane flavour a node is (see pkg/bootstrap).
const flavourKey = "embassy.flavour"

// decode reads the name and the references of each received resource. An
// error is what the proxy NACKs with.
func (p *proxy) decode(typeURL string, names []string, values [][]byte) ([]item, error) {
	if _, ok := p.types[typeURL]; !ok {
		return nil, fmt.Errorf("unexpected type %s", typeURL)
	}
	items := make([]item, len(values))
	for k, b := range values {
		name := ""
		if names != nil {
			name = names[k]
		} else {
			var err error
			if name, err = resourceName(b); err != nil {
				return nil, fmt.Errorf("%s #%d: %w", typeURL, k, err)
			}
		}
		h := p.f.dec.hash(b)
		refs, err := p.f.dec.references(typeURL, h, b)
		if err != nil {
			return nil, err
		}
		items[k] = item{name: p.f.dec.intern(name), hash: h, refs: refs}
	}
	return items, nil
}

// update stores a response's resources (replacing all held ones when
// full, as a SotW Listener, Cluster or scope response does; adding to them
// otherwise) and returns the new subscription of the dependent type
// when it changed: the names every type it depends on refers to.
func (p *proxy) update(typeURL, version, nonce string, items []item, removed []string, full bool) (depType string, oldSub, newSub []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.responses++
	st := p.types[typeURL]
	if full {
		st.res = make(map[string]uint64, len(items))
	}
	for _, it := range items {
		st.res[it.name] = it.hash
	}
	for _, n := range removed {
		delete(st.res, n)
	}
	st.version, st.nonce, st.acked = version, nonce, true
	depType, ok := dependent[typeURL]
	if !ok {
		return "", nil, nil
	}
	seen := map[string]bool{}
	for src, dt := range dependent {
		if dt != depType {
			continue
		}
		for _, h := range p.types[src].res {
			for _, r := range p.f.dec.cachedRefs(h) {
				seen[r] = true
			}
		}
	}
	sub := make([]string, 0, len(seen))
	for r := range seen {
		sub = append(sub, r)
	}
	slices.Sort(sub)
	dep := p.types[depType]
	if slices.Equal(sub, dep.sub) {
		return "", nil, nil
	}
	oldSub, dep.sub = dep.sub, sub
	// A resource the proxy no longer subscribes to is dropped, as Envoy
	// drops the endpoints of a removed cluster: a SotW EDS or RDS
	// response never says it is gone.
	for n := range dep.res {
		if _, ok := slices.BinarySearch(sub, n); !ok {
			delete(dep.res, n)
		}
	}
	return depType, oldSub, sub
}

// acked runs after the ACK of a response of typeURL went out: it reports
// an armed change the response carried, and readiness.
func (p *proxy) acked(typeURL string) {
	now := time.Now()
	p.mu.Lock()
	var obs *Observation
	if a := p.armed; a != nil && a.typeURL == typeURL {
		if h, ok := p.types[typeURL].res[a.name]; ok && h != a.base {
			obs = &Observation{Seq: a.seq, Proxy: p.idx, At: now.UnixNano()}
			p.armed = nil
		}
	}
	becameReady := !p.ready && p.isReady()
	if becameReady {
		p.ready = true
	}
	p.mu.Unlock()
	if obs != nil {
		p.f.observe(*obs)
	}
	if becameReady {
		p.f.proxyReady(p.idx)
	}
}

// isReady reports whether the proxy holds its whole configuration: the
// wildcard types ACKed with at least the expected clusters, and every
// endpoint and route name it subscribed to received and ACKed.
func (p *proxy) isReady() bool {
	for _, t := range p.wildcards() {
		if !p.types[t].acked {
			return false
		}
	}
	if len(p.types[TypeClusters].res) < p.f.cfg.MinClusters {
		return false
	}
	for _, t := range []string{TypeEndpoints, TypeRoutes} {
		st := p.types[t]
		if !st.acked || len(st.sub) == 0 {
			return false
		}
		for _, n := range st.sub {
			if _, ok := st.res[n]; !ok {
				return false
			}
		}
	}
	return true
}

// missing describes what keeps the proxy from being ready, for errors.
func (p *proxy) missing() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, t := range heldTypes {
		st := p.types[t]
		n := 0
		for _, s := range st.sub {
			if _, ok := st.res[s]; !ok {
				n++
			}
		}
		out = append(out, fmt.Sprintf("%s: acked=%v held=%d subscribed=%d missing=%d", shortType(t), st.acked, len(st.res), len(st.sub), n))
	}
	return fmt.Sprintf("%s (%v)", p.node.Id, out)
}

// arm starts watching for a change of one resource.
func (p *proxy) arm(seq int, typeURL, name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	h, ok := p.types[typeURL].res[name]
	if !ok {
		return fmt.Errorf("proxy %s holds no %s named %q", p.node.Id, shortType(typeURL), name)
	}
	p.armed = &armState{seq: seq, typeURL: typeURL, name: name, base: h}
	return nil
}

// runSotW speaks state-of-the-world ADS until ctx ends or the stream fails.
func (p *proxy) runSotW(ctx context.Context, conn *grpc.ClientConn) error {
	stream, err := openADS(ctx, conn, false)
	if err != nil {
		return err
	}
	for _, t := range p.wildcards() {
		if err := stream.SendMsg(&discoveryv3.DiscoveryRequest{Node: p.node, TypeUrl: t}); err != nil {
			return err
		}
	}
	for {
		var frame rawFrame
		if err := stream.RecvMsg(&frame); err != nil {
			return err
		}
		resp, err := parseSotW(frame)
		if err != nil {
			return err
		}
		ack, sub := p.receiveSotW(resp)
		if err := stream.SendMsg(ack); err != nil {
			return err
		}
		if ack.ErrorDetail == nil {
			p.acked(resp.typeURL)
		}
		if sub != nil {
			if err := stream.SendMsg(sub); err != nil {
				return err
			}
		}
	}
}

// receiveSotW takes in a SotW response and returns the request that ACKs
// or NACKs it and, when the response changed what the proxy depends on,
// the request that subscribes to the new names.
func (p *proxy) receiveSotW(resp wireResponse) (ack, sub *discoveryv3.DiscoveryRequest) {
	items, derr := p.decode(resp.typeURL, nil, resp.values)
	if derr != nil {
		p.f.nack()
		p.mu.Lock()
		defer p.mu.Unlock()
		st := p.types[resp.typeURL]
		var names []string
		if st != nil {
			names = st.sub
		} else {
			st = &typeState{}
		}
		return &discoveryv3.DiscoveryRequest{Node: p.node, TypeUrl: resp.typeURL, VersionInfo: st.version, ResponseNonce: resp.nonce, ResourceNames: names,
			ErrorDetail: &status.Status{Code: int32(codes.InvalidArgument), Message: derr.Error()}}, nil
	}
	// Only Listener, Cluster and scope responses carry the complete
	// state; an EDS or RDS response may carry just what changed.
	full := cache.CompleteInSotW(resp.typeURL)
	depType, _, newSub := p.update(resp.typeURL, resp.version, resp.nonce, items, nil, full)
	p.mu.Lock()
	defer p.mu.Unlock()
	ack = &discoveryv3.DiscoveryRequest{Node: p.node, TypeUrl: resp.typeURL, VersionInfo: resp.version, ResponseNonce: resp.nonce, ResourceNames: p.types[resp.typeURL].sub}
	if depType != "" {
		dep := p.types[depType]
		sub = &discoveryv3.DiscoveryRequest{Node: p.node, TypeUrl: depType, VersionInfo: dep.version, ResponseNonce: dep.nonce, ResourceNames: newSub}
	}
	return ack, sub
}

// runDelta speaks incremental ADS until ctx ends or the stream fails.
func (p *proxy) runDelta(ctx context.Context, conn *grpc.ClientConn) error {
	stream, err := openADS(ctx, conn, true)
	if err != nil {
		return err
	}
	for _, t := range p.wildcards() {
		if err := stream.SendMsg(&discoveryv3.DeltaDiscoveryRequest{Node: p.node, TypeUrl: t}); err != nil {
			return err
		}
	}
	for {
		var frame rawFrame
		if err := stream.RecvMsg(&frame); err != nil {
			return err
		}
		resp, err := parseDelta(frame)
		if err != nil {
			return err
		}
		items, derr := p.decode(resp.typeURL, resp.names, resp.values)
		if derr != nil {
			p.f.nack()
			if err := stream.SendMsg(&discoveryv3.DeltaDiscoveryRequest{Node: p.node, TypeUrl: resp.typeURL, ResponseNonce: resp.nonce,
				ErrorDetail: &status.Status{Code: int32(codes.InvalidArgument), Message: derr.Error()}}); err != nil {
				return err
			}
			continue
		}
		depType, oldSub, newSub := p.update(resp.typeURL, resp.version, resp.nonce, items, resp.removed, false)
		if err := stream.SendMsg(&discoveryv3.DeltaDiscoveryRequest{Node: p.node, TypeUrl: resp.typeURL, ResponseNonce: resp.nonce}); err != nil {
			return err
		}
		p.acked(resp.typeURL)
		if depType != "" {
			add, drop := diffSorted(oldSub, newSub)
			if err := stream.SendMsg(&discoveryv3.DeltaDiscoveryRequest{Node: p.node, TypeUrl: depType, ResourceNamesSubscribe: add, ResourceNamesUnsubscribe: drop}); err != nil {
				return err
			}
		}
	}
}

// diffSorted returns what is in b and not in a, and what is in a and not
// in b; both inputs are sorted.
func diffSorted(a, b []string) (added, removed []string) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			removed = append(removed, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			added = append(added, b[j])
			j++
		default:
			i++
			j++
		}
	}
	return added, removed
}

// shortType is the last element of a type URL ("Cluster").
func shortType(typeURL string) string {
	for k := len(typeURL) - 1; k >= 0; k-- {
		if typeURL[k] == '.' {
			return typeURL[k+1:]
		}
	}
	return typeURL
}
