package server

import (
	"maps"
	"slices"
	"strings"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
)

// deltaHeld is what delta responses gave a node of one type, as held is
// for SotW: a base list sorted by name, and the changes since by name (a
// nil resource: removed). Both are replaced, never changed, so a value
// may be kept as a response's state or as the acked one without a copy.
// A map of every name per node and type cost more than the rest of what
// a delta proxy's tracking holds; a list costs a pointer a resource.
type deltaHeld struct {
	base []*discovery.Resource
	over map[string]*discovery.Resource
}

// byName orders resources by name.
func byName(a, b *discovery.Resource) int { return strings.Compare(a.GetName(), b.GetName()) }

// get returns the resource held under name.
func (h deltaHeld) get(name string) (*discovery.Resource, bool) {
	if r, ok := h.over[name]; ok {
		return r, r != nil
	}
	i, ok := slices.BinarySearchFunc(h.base, name, func(r *discovery.Resource, n string) int { return strings.Compare(r.GetName(), n) })
	if !ok {
		return nil, false
	}
	return h.base[i], true
}

// each calls fn for every resource held, in no set order.
func (h deltaHeld) each(fn func(*discovery.Resource)) {
	for _, r := range h.base {
		if _, changed := h.over[r.GetName()]; !changed {
			fn(r)
		}
	}
	for _, r := range h.over {
		if r != nil {
			fn(r)
		}
	}
}

// size counts the resources held.
func (h deltaHeld) size() int {
	n := 0
	h.each(func(*discovery.Resource) { n++ })
	return n
}

// apply returns what is held once a response's upserts and removals are
// applied; h is left as it was.
func (h deltaHeld) apply(upserts []*discovery.Resource, removed []string) deltaHeld {
	if len(h.base) == 0 && len(h.over) == 0 && len(removed) == 0 {
		// A first response becomes the base as it is: the server sends
		// its responses sorted and never changes one it sent, and the
		// streams of a shape share their first response's list.
		if sortedUnique(upserts) {
			return deltaHeld{base: upserts}
		}
		base := slices.Clone(upserts)
		slices.SortFunc(base, byName)
		return deltaHeld{base: slices.CompactFunc(base, func(a, b *discovery.Resource) bool { return a.GetName() == b.GetName() })}
	}
	over := make(map[string]*discovery.Resource, len(h.over)+len(upserts)+len(removed))
	maps.Copy(over, h.over)
	for _, r := range upserts {
		over[r.GetName()] = r
	}
	for _, n := range removed {
		over[n] = nil
	}
	out := deltaHeld{base: h.base, over: over}
	if len(over) > maxOver {
		out = deltaHeld{base: out.list()}
	}
	return out
}

// list returns every resource held, sorted by name.
func (h deltaHeld) list() []*discovery.Resource {
	out := make([]*discovery.Resource, 0, len(h.base)+len(h.over))
	h.each(func(r *discovery.Resource) { out = append(out, r) })
	slices.SortFunc(out, byName)
	return out
}

// versions maps each name held to its version.
func (h deltaHeld) versions() map[string]string {
	out := map[string]string{}
	h.each(func(r *discovery.Resource) { out[r.GetName()] = r.GetVersion() })
	return out
}

// sameAs reports whether h and o hold the same versions by name.
func (h deltaHeld) sameAs(o deltaHeld) bool {
	if h.size() != o.size() {
		return false
	}
	same := true
	h.each(func(r *discovery.Resource) {
		if x, ok := o.get(r.GetName()); !ok || x.GetVersion() != r.GetVersion() {
			same = false
		}
	})
	return same
}

// sortedUnique reports whether rs is sorted by name with no name twice.
func sortedUnique(rs []*discovery.Resource) bool {
	for i := 1; i < len(rs); i++ {
		if rs[i-1].GetName() >= rs[i].GetName() {
			return false
		}
	}
	return true
}
