package cache

import (
	"fmt"

	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/translate"
)

// Config scoping in the cache: a proxy whose workload sees only some
// services (mesh.Snapshot.Visible) is built on the shared set of its
// flavour narrowed by translate.Scope. Proxies are keyed by (flavour,
// visible set), so every proxy that sees the same services shares one
// narrowed set, and that set is checked once, per generation.

// scopedBase is the shared set of one flavour narrowed to one visible
// set, with why it may not be served.
type scopedBase struct {
	set resourceSet
	err error
}

// visibility is what px sees. Agents ask only for bundles, and are never
// narrowed.
func (g *generation) visibility(px translate.Proxy) *mesh.Visibility {
	if px.Flavour == Agent {
		return g.mesh.Visible(nil)
	}
	w, ns := px.Workload, px.Namespace
	if w == "" && ns == "" {
		// A proxyless node's id is read here, as for its server Listeners.
		w, ns, _ = dataplane.ParseNodeID(px.ID)
	}
	return g.mesh.Visible(g.mesh.Workload(ns, w))
}

// scoped reports whether px sees less than every service.
func (g *generation) scoped(px translate.Proxy) bool { return !g.visibility(px).All }

// scope narrows base (the shared set of px's flavour, whose check gave
// baseErr) to what px sees, and extends its shape key with the visible
// set's. A proxy that sees everything keeps all three as they are.
func (g *generation) scope(px translate.Proxy, base resourceSet, baseErr error, key string) (resourceSet, error, string) {
	v := g.visibility(px)
	if v.All || base == nil {
		return base, baseErr, key
	}
	memo := string(px.Flavour) + "/" + v.Key
	if g.scopedSets == nil {
		g.scopedSets = map[string]scopedBase{}
	}
	sb, ok := g.scopedSets[memo]
	if !ok {
		sb.set, sb.err = subset(base, translate.Scope(g.mesh, base.resources(), v), g.enc)
		if sb.err == nil {
			sb.err = g.checks.servable(sb.set)
		}
		g.scopedSets[memo] = sb
	}
	return sb.set, sb.err, "scope/" + v.Key + "/" + key
}

// subset indexes r, which holds resources of base (translate.Scope keeps
// them as they are) and at most a few built anew: the former keep base's
// entries, the latter are encoded once through enc like any resource.
func subset(base resourceSet, r *translate.Resources, enc *encodings) (resourceSet, error) {
	lists := r.ByType()
	out := resourceSet{}
	for _, typ := range servedTypes {
		if len(lists[typ]) == 0 {
			continue
		}
		from := base[typ]
		items := make(map[string]*entry, len(lists[typ]))
		for _, res := range lists[typ] {
			name := cachev3.GetResourceName(res)
			e, ok := (*entry)(nil), false
			if from != nil {
				e, ok = from.get(name)
				ok = ok && e.res == res
			}
			if !ok {
				var err error
				if name, e, err = enc.entry(typ, res); err != nil {
					return nil, fmt.Errorf("marshal %s: %w", typ, err)
				}
			}
			if err := addEntry(items, typ, name, e); err != nil {
				return nil, err
			}
		}
		out[typ] = newTypeSet(typ, items)
	}
	return out, nil
}
