package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"sync"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"

	"embassy.dev/embassy/internal/proccpu"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
	"embassy.dev/embassy/xds/translate"
)

// baselineTarget is what a mesh would get from go-control-plane used the
// plain way: Embassy's translator produces the same resources, and each
// proxy gets a snapshot of its own (the shared resources plus its inbound
// ones, versioned by content) in cachev3's snapshot cache, served by
// serverv3. It shares nothing per shape and sends every requested
// resource on every change, which is what Embassy is measured against.
type baselineTarget struct {
	cfg   Config
	cache cachev3.SnapshotCache
	grpc  *grpc.Server
	lis   net.Listener
	track *tracker

	// mu guards the mesh and the push that follows each change; pushes
	// are serialized, as one control plane's would be.
	mu  sync.Mutex
	rs  map[resource.Key]*resource.Resource
	rev int64
	ids []string
	err error
	// active is the last commit or push end: a commit after a quiet
	// spell of a debounce is pushed at once, as embassy-cp's is.
	active time.Time
	done   sync.WaitGroup
	ctx    context.Context
	stop   context.CancelFunc
}

func startBaseline(ctx context.Context, cfg Config) (_ target, seed time.Duration, err error) {
	start := time.Now()
	rs, err := cfg.Mesh.Resources()
	if err != nil {
		return nil, 0, err
	}
	m, err := cfg.Mesh.MeshResource()
	if err != nil {
		return nil, 0, err
	}
	b := &baselineTarget{cfg: cfg, track: newTracker(), rs: map[resource.Key]*resource.Resource{}}
	b.ctx, b.stop = context.WithCancel(context.Background())
	for _, r := range append(rs, m) {
		b.rs[r.Key()] = r
	}
	// ads=false, as embassy-cp's own cache: a sidecar's EDS request names
	// its clusters' endpoints, which need not be every one of the snapshot.
	b.cache = cachev3.NewSnapshotCache(false, cachev3.IDHash{}, nil)
	srv := serverv3.NewServer(b.ctx, b.cache, b.track.callbacks())
	b.grpc = grpc.NewServer(grpc.MaxConcurrentStreams(1 << 20))
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(b.grpc, srv)
	if b.lis, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		b.Close()
		return nil, 0, err
	}
	go b.grpc.Serve(b.lis)
	return b, time.Since(start), nil
}

// XDSAddrs implements target.
func (b *baselineTarget) XDSAddrs() []string { return []string{b.lis.Addr().String()} }

// Heaps implements target: this process's.
func (b *baselineTarget) Heaps() ([]uint64, error) { return []uint64{liveHeap()}, nil }

// StoreHeap implements target: the store is in this process.
func (b *baselineTarget) StoreHeap() (uint64, error) { return 0, nil }

// CPU implements target: this process's, the harness's included.
func (b *baselineTarget) CPU() time.Duration { return proccpu.Used() }

// Expect implements target: it sets every proxy's snapshot, as a plain
// go-control-plane server does for every node it knows.
func (b *baselineTarget) Expect(ctx context.Context, ids []string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ids = ids
	return b.push(ctx)
}

// Commit implements target: the push runs in the background after the
// same debounce embassy-cp waits, or at once after a quiet spell, as
// embassy-cp's does.
func (b *baselineTarget) Commit(ctx context.Context, ops []store.Op) error {
	b.mu.Lock()
	wait := b.cfg.Debounce
	if time.Since(b.active) >= wait {
		wait = 0
	}
	b.active = time.Now()
	for _, op := range ops {
		if op.Resource == nil {
			delete(b.rs, op.Key)
			continue
		}
		b.rs[op.Key] = op.Resource
	}
	b.mu.Unlock()
	b.done.Add(1)
	go func() {
		defer b.done.Done()
		select {
		case <-time.After(wait):
		case <-b.ctx.Done():
			return
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if err := b.push(b.ctx); err != nil && b.err == nil {
			b.err = err
		}
		b.active = time.Now()
	}()
	return nil
}

// push translates the mesh and sets every expected proxy's snapshot. The
// caller holds mu.
func (b *baselineTarget) push(ctx context.Context) error {
	b.rev++
	list := make([]*resource.Resource, 0, len(b.rs))
	for _, r := range b.rs {
		list = append(list, r)
	}
	snap := mesh.New(b.rev, list)
	outbound, _ := translate.Outbound(snap)
	shared, err := newVersionedSet(outbound)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	for _, id := range b.ids {
		px := translate.Proxy{ID: id, Flavour: translate.Envoy}
		if px.Workload, px.Namespace, err = dataplane.ParseNodeID(id); err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		inbound, _ := translate.Inbound(snap, px)
		own, err := newVersionedSet(inbound)
		if err != nil {
			return fmt.Errorf("baseline: node %s: %w", id, err)
		}
		if err := b.cache.SetSnapshot(ctx, id, shared.overlay(own)); err != nil {
			return fmt.Errorf("baseline: node %s: %w", id, err)
		}
	}
	return nil
}

// Stats implements target from the callbacks' counts.
func (b *baselineTarget) Stats() pushStats { return b.track.stats() }

// Connected implements target from the callbacks' stream records.
func (b *baselineTarget) Connected(ids map[string]bool, mode Mode) []int {
	return []int{b.track.connected(ids, mode)}
}

// AckedSince implements target from the callbacks' ACK records.
func (b *baselineTarget) AckedSince(ids map[string]bool, typeURL string, t time.Time) int {
	return b.track.ackedSince(ids, typeURL, t)
}

// Err implements target: the first push that failed.
func (b *baselineTarget) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// Close implements target.
func (b *baselineTarget) Close() error {
	b.stop()
	if b.grpc != nil {
		b.grpc.Stop()
	}
	b.done.Wait()
	return nil
}

// versionedSet is translated resources by type, each type with the
// content hashes of its resources.
type versionedSet map[resourcev3.Type]*versionedType

type versionedType struct {
	items  []types.Resource
	hashes []string
}

func newVersionedSet(r *translate.Resources) (versionedSet, error) {
	set := versionedSet{}
	if r == nil {
		return set, nil
	}
	for typ, items := range r.ByType() {
		if len(items) == 0 {
			continue
		}
		vt := &versionedType{items: items, hashes: make([]string, len(items))}
		for k, res := range items {
			m, err := cachev3.MarshalResource(res)
			if err != nil {
				return nil, fmt.Errorf("marshalling a %s: %w", typ, err)
			}
			vt.hashes[k] = cachev3.HashResource(m)
		}
		set[typ] = vt
	}
	return set, nil
}

// overlay is a snapshot of s with own's resources added, own's winning on
// a name both have; each type's version is a hash of its resources'
// hashes, so it changes exactly when the content does.
func (s versionedSet) overlay(own versionedSet) *cachev3.Snapshot {
	out := &cachev3.Snapshot{}
	for _, typ := range []resourcev3.Type{resourcev3.ListenerType, resourcev3.RouteType, resourcev3.ScopedRouteType, resourcev3.ClusterType, resourcev3.EndpointType, resourcev3.SecretType} {
		items := map[string]types.ResourceWithTTL{}
		h := sha256.New()
		for _, vt := range []*versionedType{s[typ], own[typ]} {
			if vt == nil {
				continue
			}
			for k, res := range vt.items {
				items[cachev3.GetResourceName(res)] = types.ResourceWithTTL{Resource: res}
				h.Write([]byte(vt.hashes[k]))
			}
		}
		out.Resources[cachev3.GetResponseType(typ)] = cachev3.Resources{Version: hex.EncodeToString(h.Sum(nil)[:8]), Items: items}
	}
	return out
}
