package cache

import (
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/translate"
)

// generation is everything built from one mesh snapshot: the shared
// outbound set, the one proxyless snapshot, and one Envoy snapshot per
// shape seen so far. Its shapes map is guarded by the publisher's mu.
type generation struct {
	mesh      *mesh.Snapshot
	outbound  resourceSet
	proxyless *cachev3.Snapshot
	shapes    map[string]*cachev3.Snapshot
}

// newGeneration translates the shared resources of a mesh snapshot: the
// outbound set and the proxyless set, each exactly once.
func newGeneration(m *mesh.Snapshot, tr Translator) (*generation, error) {
	out, err := newResourceSet(tr.Outbound(m))
	if err != nil {
		return nil, err
	}
	pl, err := newResourceSet(tr.ProxylessClient(m))
	if err != nil {
		return nil, err
	}
	return &generation{mesh: m, outbound: out, proxyless: pl.snapshot(), shapes: map[string]*cachev3.Snapshot{}}, nil
}

// snapshotFor returns the snapshot of a node's shape, building it the
// first time the shape is seen. Every node of a shape gets the same
// pointer, so memory and hashing cost follow shapes, not nodes.
func (g *generation) snapshotFor(px translate.Proxy, inbound resourceSet) *cachev3.Snapshot {
	if px.Flavour == translate.Proxyless {
		return g.proxyless
	}
	key := inbound.key()
	if snap, ok := g.shapes[key]; ok {
		return snap
	}
	snap := overlay(g.outbound, inbound).snapshot()
	g.shapes[key] = snap
	return snap
}
