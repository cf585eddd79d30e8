package cache

import (
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/translate"
)

// generation is everything built from one mesh snapshot: the shared
// outbound and proxyless client sets, the one snapshot every proxyless
// client shares, and one snapshot per shape seen so far (Envoy sidecars by
// their inbound set, proxyless gRPC servers by their server Listeners,
// agents by their bundles).
// Its shapes map is guarded by the publisher's mu.
type generation struct {
	mesh     *mesh.Snapshot
	outbound resourceSet
	// outboundErr is why the outbound set may not be served on its own.
	outboundErr  error
	proxylessSet resourceSet
	proxyless    *cachev3.Snapshot
	// proxylessErr is why the proxyless clients' set may not be served.
	proxylessErr error
	shapes       map[string]shape
	checks       *checks
	// scopedSets are the shared sets narrowed per (flavour, visible set);
	// see scope.go.
	scopedSets map[string]scopedBase
}

// shape is the snapshot of one shape, or why its set may not be served.
type shape struct {
	snap *cachev3.Snapshot
	err  error
}

// newGeneration translates the shared resources of a mesh snapshot: the
// outbound set and the proxyless set, each exactly once.
func newGeneration(m *mesh.Snapshot, tr Translator, c *checks) (*generation, error) {
	out, err := newResourceSet(tr.Outbound(m))
	if err != nil {
		return nil, err
	}
	pl, err := newResourceSet(tr.ProxylessClient(m))
	if err != nil {
		return nil, err
	}
	return &generation{mesh: m, outbound: out, outboundErr: c.servable(out), proxylessSet: pl, proxyless: pl.snapshot(),
		proxylessErr: c.servable(pl), shapes: map[string]shape{}, checks: c}, nil
}

// snapshotFor returns the snapshot of a node's shape, building it the
// first time the shape is seen. Every node of a shape gets the same
// pointer, so memory and hashing cost follow shapes, not nodes. own is the
// node's own set: an Envoy sidecar's inbound resources, a proxyless
// server's Listeners, an agent's bundles; a proxyless node without any is
// a client and shares the one proxyless snapshot. An agent's snapshot is
// its bundles alone: it asks for nothing else. Each shape's set is checked
// once (checks.over); a shape that fails has no snapshot, only the
// error, which is the same value for every node of the shape.
func (g *generation) snapshotFor(px translate.Proxy, own resourceSet) (*cachev3.Snapshot, error) {
	base, baseErr, key := g.outbound, g.outboundErr, "envoy/"+own.key()
	switch px.Flavour {
	case translate.Proxyless:
		if len(own) == 0 && !g.scoped(px) {
			return g.proxyless, g.proxylessErr
		}
		base, baseErr, key = g.proxylessSet, g.proxylessErr, "proxyless/"+own.key()
	case Agent:
		base, baseErr, key = nil, nil, "agent/"+own.key()
	}
	base, baseErr, key = g.scope(px, base, baseErr, key)
	if s, ok := g.shapes[key]; ok {
		return s.snap, s.err
	}
	if px.Flavour == translate.Envoy {
		base = withoutClashes(base, own)
	}
	set := overlay(base, own)
	s := shape{err: g.checks.over(set, baseErr, own)}
	if s.err == nil {
		s.snap = set.snapshot()
	}
	g.shapes[key] = s
	return s.snap, s.err
}
