package cache

import (
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/translate"
)

// generation is everything built from one mesh snapshot: the shared
// outbound and proxyless client sets, the one view every proxyless
// client shares, and one view per shape seen so far (Envoy sidecars by
// their inbound set, proxyless gRPC servers by their server Listeners,
// agents by their bundles). Each view is linked to its shape's view of
// the generation before, so it knows what the push changed.
// Its shapes map and builder are guarded by the publisher's mu.
type generation struct {
	mesh     *mesh.Snapshot
	outbound resourceSet
	// outboundErr is why the outbound set may not be served on its own.
	outboundErr  error
	proxylessSet resourceSet
	proxyless    *view
	// proxylessErr is why the proxyless clients' set may not be served.
	proxylessErr error
	shapes       map[string]shape
	// prevShapes are the shapes of the generation before, nil for none.
	prevShapes map[string]shape
	builder    *viewBuilder
	checks     *checks
	// scopedSets are the shared sets narrowed per (flavour, visible set);
	// see scope.go.
	scopedSets map[string]scopedBase
	enc        *encodings
}

// shape is the view of one shape, or why its set may not be served.
type shape struct {
	view *view
	err  error
}

// newGeneration translates the shared resources of a mesh snapshot: the
// outbound set and the proxyless set, each exactly once. prev is the
// generation before, or nil.
func newGeneration(m *mesh.Snapshot, tr Translator, c *checks, enc *encodings, prev *generation) (*generation, error) {
	// The two sets are independent, and every proxy waits for both: on
	// a machine of several cores they are built side by side.
	var pl resourceSet
	var plErr, plCheck error
	done := make(chan struct{})
	go func() {
		defer close(done)
		if pl, plErr = newResourceSet(tr.ProxylessClient(m), enc); plErr == nil {
			plCheck = c.servable(pl)
		}
	}()
	out, err := newResourceSet(tr.Outbound(m), enc)
	var outCheck error
	if err == nil {
		outCheck = c.servable(out)
	}
	<-done
	if err != nil {
		return nil, err
	}
	if plErr != nil {
		return nil, plErr
	}
	g := &generation{mesh: m, outbound: out, outboundErr: outCheck, proxylessSet: pl,
		proxylessErr: plCheck, shapes: map[string]shape{}, builder: newViewBuilder(), checks: c, enc: enc}
	var prevProxyless *view
	if prev != nil {
		g.prevShapes, prevProxyless = prev.shapes, prev.proxyless
	}
	g.proxyless = newView(pl, prevProxyless, g.builder)
	return g, nil
}

// viewFor returns the view of a node's shape, building it the first time
// the shape is seen. Every node of a shape gets the same pointer, so
// memory and hashing cost follow shapes, not nodes. own is the node's own
// set: an Envoy sidecar's inbound resources, a proxyless server's
// Listeners, an agent's bundles; a proxyless node without any is a client
// and shares the one proxyless view. An agent's view is its bundles
// alone: it asks for nothing else. Each shape's set is checked once
// (checks.over); a shape that fails has no view, only the error, which is
// the same value for every node of the shape. was is the node's view
// before, which links a shape new to this generation.
func (g *generation) viewFor(px translate.Proxy, own resourceSet, was *view) (*view, error) {
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
		return s.view, s.err
	}
	if px.Flavour == translate.Envoy {
		base = withoutClashes(base, own)
	}
	set := overlay(base, own)
	s := shape{err: g.checks.over(set, baseErr, own)}
	if s.err == nil {
		prev := was
		if p, ok := g.prevShapes[key]; ok && p.view != nil {
			prev = p.view
		}
		s.view = newView(set, prev, g.builder)
	}
	g.shapes[key] = s
	return s.view, s.err
}
