package cache

import (
	"maps"
	"slices"
	"sync"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// maxChanges is how many pushes a view remembers the changes of. A proxy
// further behind is sent the whole of what it subscribes to, which is
// always a correct answer.
const maxChanges = 16

// view is what every node of one shape is served: per type, the set and
// its version, and which names the last pushes changed, so that a
// state-of-the-world answer for a type that need not be complete carries
// only what changed since the version the proxy holds. Views are
// immutable once built and shared by every node of the shape.
type view struct {
	types map[resourcev3.Type]*typeView
}

// typeView is one type of a view.
type typeView struct {
	set     *typeSet
	version string
	// changes lead, oldest first, from older versions to this one.
	changes []change

	fullOnce sync.Once
	full     *sotwAnswer
	// named are answers listing every name of a subscription, by the
	// subscription's fingerprint: proxies of one shape subscribe to the
	// same names, and the tracker keeps what each one holds. since are
	// the answers carrying what changed since a version, by that version
	// and the fingerprint: after a push, every proxy of the shape is
	// due the same one.
	namedMu sync.Mutex
	named   map[string]*sotwAnswer
	since   map[sinceKey]*sotwAnswer
	// deltaFirst are the answers of incremental streams that hold
	// nothing yet, by subscription (nil: the wildcard); see firstDelta.
	deltaMu    sync.Mutex
	deltaFirst map[*nameSet][]*discovery.Resource
}

// maxNamed bounds how many subscriptions' answers a typeView keeps.
const maxNamed = 64

// change is one push's effect on a type: the names whose content differs
// between version from and the next one.
type change struct {
	from  string
	names []string
}

// viewBuilder memoizes, for one push, what views of several shapes
// share: the names that differ between two sets (every shape layers its
// own few resources over the same shared set, whose change is worked out
// once, not once per shape), and the typeView of a set that several
// shapes hold as it is (a sidecar's load assignments are the shared
// ones), so their answers are built once.
type viewBuilder struct {
	diffs map[[2]*typeSet][]string
	types map[typeKey]*typeView
}

// typeKey is a typeView's set and the typeView it follows.
type typeKey struct {
	set  *typeSet
	prev *typeView
}

func newViewBuilder() *viewBuilder {
	return &viewBuilder{diffs: map[[2]*typeSet][]string{}, types: map[typeKey]*typeView{}}
}

// newView builds the view of set, linking each type to the same type of
// prev (the shape's view of the push before, or nil) to record what
// changed. A type whose version did not change is prev's own typeView.
func newView(set resourceSet, prev *view, d *viewBuilder) *view {
	v := &view{types: make(map[resourcev3.Type]*typeView, len(servedTypes))}
	for _, typ := range servedTypes {
		ts := set[typ]
		version := emptyVersion
		if ts != nil {
			version = ts.version
		}
		var old *typeView
		if prev != nil {
			old = prev.types[typ]
		}
		if old != nil && old.version == version {
			v.types[typ] = old
			continue
		}
		k := typeKey{ts, old}
		if tv, ok := d.types[k]; ok && ts != nil {
			v.types[typ] = tv
			continue
		}
		tv := &typeView{set: ts, version: version}
		if old != nil {
			tail := old.changes[max(0, len(old.changes)-maxChanges+1):]
			tv.changes = append(slices.Clip(tail), change{from: old.version, names: d.between(old.set, ts)})
		}
		d.types[k] = tv
		v.types[typ] = tv
	}
	return v
}

// changedSince returns the names changed since version; ok is false when
// the view does not remember that version.
func (tv *typeView) changedSince(version string) (names map[string]struct{}, ok bool) {
	i, ok := tv.changesFrom(version)
	if !ok || i == len(tv.changes) {
		return nil, ok
	}
	names = map[string]struct{}{}
	for _, c := range tv.changes[i:] {
		for _, n := range c.names {
			names[n] = struct{}{}
		}
	}
	return names, true
}

// remembers reports whether changedSince knows what changed since
// version.
func (tv *typeView) remembers(version string) bool {
	_, ok := tv.changesFrom(version)
	return ok
}

// changesFrom returns the index of the first change since version
// (len(changes) for the current version); ok is false when the view does
// not remember that version.
func (tv *typeView) changesFrom(version string) (int, bool) {
	if version == tv.version {
		return len(tv.changes), true
	}
	for i := len(tv.changes) - 1; i >= 0; i-- {
		if tv.changes[i].from == version {
			return i, true
		}
	}
	return 0, false
}

// answerFor returns the encodings of every name sub subscribes to that
// the view holds, built once per subscription (by its fingerprint print)
// for every proxy of the shape.
func (tv *typeView) answerFor(print string, sub map[string]struct{}) *sotwAnswer {
	tv.namedMu.Lock()
	defer tv.namedMu.Unlock()
	if out, ok := tv.named[print]; ok {
		return out
	}
	out := &sotwAnswer{resources: encodedNamed(tv, slices.Collect(maps.Keys(sub)))}
	if tv.named == nil {
		tv.named = map[string]*sotwAnswer{}
	}
	if len(tv.named) < maxNamed {
		tv.named[print] = out
	}
	return out
}

// sinceKey is a version a proxy holds and its subscription's fingerprint.
type sinceKey struct{ from, print string }

// changedFor returns the encodings of the names sub subscribes to that
// changed since version from, which the view remembers (remembers), built
// once per version and subscription for every proxy of the shape.
func (tv *typeView) changedFor(from, print string, sub map[string]struct{}) *sotwAnswer {
	tv.namedMu.Lock()
	defer tv.namedMu.Unlock()
	k := sinceKey{from, print}
	if out, ok := tv.since[k]; ok {
		return out
	}
	changed, _ := tv.changedSince(from)
	var names []string
	for n := range changed {
		if _, ok := sub[n]; ok {
			names = append(names, n)
		}
	}
	out := &sotwAnswer{resources: encodedNamed(tv, names)}
	if tv.since == nil {
		tv.since = map[sinceKey]*sotwAnswer{}
	}
	if len(tv.since) < maxNamed {
		tv.since[k] = out
	}
	return out
}

// get returns the entry named name.
func (tv *typeView) get(name string) (*entry, bool) {
	if tv.set == nil {
		return nil, false
	}
	return tv.set.get(name)
}

// all returns every resource encoded, sorted by name, built once for
// every node of the shape.
func (tv *typeView) all() *sotwAnswer {
	tv.fullOnce.Do(func() {
		tv.full = &sotwAnswer{}
		if tv.set == nil {
			return
		}
		for _, n := range tv.set.names() {
			e, _ := tv.set.get(n)
			tv.full.resources = append(tv.full.resources, e.any)
		}
	})
	return tv.full
}

// between returns the names whose content differs between a and b
// (either may be nil).
func (d *viewBuilder) between(a, b *typeSet) []string {
	if a == b {
		return nil
	}
	if a != nil && b != nil && a.base != nil && b.base != nil {
		cand := map[string]struct{}{}
		for _, n := range d.flat(a.base, b.base) {
			cand[n] = struct{}{}
		}
		for n := range a.items {
			cand[n] = struct{}{}
		}
		for n := range b.items {
			cand[n] = struct{}{}
		}
		var out []string
		for n := range cand {
			if !sameEntry(a, b, n) {
				out = append(out, n)
			}
		}
		return out
	}
	return d.flat(a, b)
}

// flat compares two sets name by name, once per pair.
func (d *viewBuilder) flat(a, b *typeSet) []string {
	if a == b {
		return nil
	}
	k := [2]*typeSet{a, b}
	if out, ok := d.diffs[k]; ok {
		return out
	}
	var out []string
	seen := map[string]struct{}{}
	for _, s := range []*typeSet{a, b} {
		if s == nil {
			continue
		}
		s.each(func(n string, _ *entry) {
			if _, ok := seen[n]; ok {
				return
			}
			seen[n] = struct{}{}
			if !sameEntry(a, b, n) {
				out = append(out, n)
			}
		})
	}
	d.diffs[k] = out
	return out
}

// sameEntry reports whether a and b hold the same content under name.
func sameEntry(a, b *typeSet, name string) bool {
	var ea, eb *entry
	if a != nil {
		ea, _ = a.get(name)
	}
	if b != nil {
		eb, _ = b.get(name)
	}
	if ea == nil || eb == nil {
		return ea == eb
	}
	return ea == eb || ea.hash == eb.hash
}

// GetVersion returns the version of a type, "" for a type the view does
// not serve.
func (v *view) GetVersion(typeURL string) string {
	if tv := v.types[typeURL]; tv != nil {
		return tv.version
	}
	return ""
}

// GetResources returns the resources of a type by name.
func (v *view) GetResources(typeURL string) map[string]types.Resource {
	out := map[string]types.Resource{}
	if tv := v.types[typeURL]; tv != nil && tv.set != nil {
		tv.set.each(func(n string, e *entry) { out[n] = e.res })
	}
	return out
}
