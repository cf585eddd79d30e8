package cache

import (
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"weak"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
)

// DeltaSub is what one incremental stream subscribes to of one type and
// what the proxy holds of it. A fleet's streams differ little from the
// views of their shapes, so a DeltaSub stores only that difference: the
// typeView the proxy was last brought to (shared by every proxy of the
// shape), the subscribed names as a set interned across streams, and the
// few names whose state departs from both, until the next answer. A map
// of every name per stream and type cost more than everything else a
// delta proxy holds. A DeltaSub belongs to one stream's goroutine.
type DeltaSub struct {
	wildcard bool
	// legacy keeps an empty request from unsubscribing a wildcard
	// subscription that began empty (the protocol's legacy wildcard).
	legacy bool
	names  *nameSet

	// held is the typeView the last answer brought the proxy to (nil:
	// none), and heldAll whether that answer covered all of it or only
	// the subscribed names.
	held    *typeView
	heldAll bool
	// except holds the names whose state differs from what held says:
	// the version the proxy holds ("" for one it holds at a version not
	// known), or notHeld.
	except map[string]string
}

// NewDeltaSub starts the subscription of a stream's first request of a
// type: initial are the versions the proxy says it holds (a reconnect),
// and legacyWildcard lets a request naming nothing subscribe to all.
func NewDeltaSub(subscribe, unsubscribe []string, initial map[string]string, legacyWildcard bool) *DeltaSub {
	d := &DeltaSub{wildcard: len(subscribe) == 0 && legacyWildcard, legacy: legacyWildcard, names: emptyNames}
	if len(initial) > 0 {
		d.except = make(map[string]string, len(initial))
		for n, v := range initial {
			d.except[Intern(n)] = v
		}
	}
	d.Update(subscribe, unsubscribe)
	return d
}

// Update applies a later request's subscription changes, as the xDS
// protocol and go-control-plane read them: "*" subscribes to or
// unsubscribes from the wildcard, and a proxy holds nothing it
// unsubscribes from.
func (d *DeltaSub) Update(subscribe, unsubscribe []string) {
	if d.legacy {
		if len(subscribe) == 0 {
			return
		}
		d.legacy = false
	}
	if len(subscribe) == 0 && len(unsubscribe) == 0 {
		return
	}
	add := map[string]struct{}{}
	for _, n := range subscribe {
		if n == wildcardName {
			d.wildcard = true
			continue
		}
		n = Intern(n)
		_, was := d.names.has[n]
		_, known := d.except[n]
		if !was && !known && d.held != nil && !d.heldAll {
			// Newly subscribed: the proxy holds none of it yet.
			d.mark(n, notHeld)
		}
		add[n] = struct{}{}
	}
	drop := map[string]struct{}{}
	for _, n := range unsubscribe {
		if n == wildcardName {
			d.wildcard = false
			continue
		}
		n = Intern(n)
		_, sub := d.names.has[n]
		_, added := add[n]
		if (sub || added) && d.wildcard {
			// Still sent by the wildcard, so sent again, as
			// go-control-plane does: held at no known version.
			d.mark(n, "")
		} else {
			d.mark(n, notHeld)
		}
		delete(add, n)
		drop[n] = struct{}{}
	}
	d.names = d.names.with(add, drop)
}

// wildcardName subscribes to every resource of a type.
const wildcardName = "*"

// notHeld marks a name the proxy holds nothing of; no version is a NUL.
const notHeld = "\x00"

func (d *DeltaSub) mark(name, version string) {
	if d.except == nil {
		d.except = map[string]string{}
	}
	d.except[name] = version
}

// heldVersion is the version of name the proxy holds; ok is false when
// it holds none.
func (d *DeltaSub) heldVersion(name string) (version string, ok bool) {
	if v, ok := d.except[name]; ok {
		return v, v != notHeld
	}
	if d.held == nil {
		return "", false
	}
	if _, sub := d.names.has[name]; !d.heldAll && !sub {
		return "", false
	}
	e, ok := d.held.get(name)
	if !ok {
		return "", false
	}
	return e.hash, true
}

// Wildcard reports whether the stream subscribes to every resource of
// the type.
func (d *DeltaSub) Wildcard() bool { return d.wildcard }

// Names returns the names the stream subscribes to, shared with every
// stream that subscribes to the same; callers must not change it.
func (d *DeltaSub) Names() map[string]struct{} { return d.names.has }

// answerDeltaSub returns the response that brings a proxy from what d
// says it holds to tv, and takes it as held; false when nothing differs
// and none is due (force: a wildcard stream's first answer, which Envoy
// waits for even when empty).
func answerDeltaSub(tv *typeView, d *DeltaSub, typeURL string, force bool) (*discovery.DeltaDiscoveryResponse, bool) {
	if d.held == nil && len(d.except) == 0 {
		// A new stream holding nothing: its answer is everything it
		// subscribes to, the same for every stream of the shape.
		if upserts := tv.firstDelta(d.wildcard, d.names); len(upserts) > 0 || force {
			d.settle(tv)
			return &discovery.DeltaDiscoveryResponse{Resources: upserts, TypeUrl: typeURL, SystemVersionInfo: tv.version}, true
		}
	}
	var upserts []*discovery.Resource
	var removed []string
	consider := func(name string) {
		if _, sub := d.names.has[name]; !d.wildcard && !sub {
			return
		}
		was, held := d.heldVersion(name)
		if e, ok := tv.get(name); ok {
			if !held || was != e.hash {
				upserts = append(upserts, e.delta)
			}
		} else if held {
			removed = append(removed, name)
		}
	}
	for _, n := range d.candidates(tv) {
		consider(n)
	}
	if len(upserts) == 0 && len(removed) == 0 && !force {
		if d.heldAll == d.wildcard {
			// What the proxy holds reads the same against tv, which
			// keeps the next answer on the fast path; except still
			// says what differs from it.
			d.held = tv
		}
		return nil, false
	}
	slices.SortFunc(upserts, func(a, b *discovery.Resource) int { return strings.Compare(a.GetName(), b.GetName()) })
	upserts = slices.CompactFunc(upserts, func(a, b *discovery.Resource) bool { return a.GetName() == b.GetName() })
	slices.Sort(removed)
	removed = slices.Compact(removed)
	d.settle(tv)
	return &discovery.DeltaDiscoveryResponse{
		Resources:         upserts,
		RemovedResources:  removed,
		TypeUrl:           typeURL,
		SystemVersionInfo: tv.version,
	}, true
}

// candidates lists the names whose state may differ between what d holds
// and tv: the names that changed since the version held, when the view
// remembers it and the held answer covered what is subscribed now;
// otherwise every name either side has.
func (d *DeltaSub) candidates(tv *typeView) []string {
	out := slices.Collect(maps.Keys(d.except))
	if d.held != nil && (d.heldAll || !d.wildcard) {
		if changed, ok := tv.changedSince(d.held.version); ok {
			for n := range changed {
				out = append(out, n)
			}
			return out
		}
	}
	if !d.wildcard {
		for n := range d.names.has {
			out = append(out, n)
		}
		return out
	}
	if tv.set != nil {
		tv.set.each(func(n string, _ *entry) { out = append(out, n) })
	}
	if d.held != nil && d.held.set != nil && d.held != tv {
		d.held.set.each(func(n string, _ *entry) { out = append(out, n) })
	}
	return out
}

// settle records that the proxy holds tv, of what it subscribes to.
func (d *DeltaSub) settle(tv *typeView) {
	d.held, d.heldAll, d.except = tv, d.wildcard, nil
}

// nameSet is an immutable set of subscribed names, interned: every
// stream that subscribes to the same names shares one.
type nameSet struct {
	has map[string]struct{}
	// key and print are the set's fingerprint (fingerprint).
	key, print string
}

var emptyNames = &nameSet{has: map[string]struct{}{}, print: Fingerprint(nil)}

// nameSets interns name sets by fingerprint while some stream holds them.
var nameSets = struct {
	sync.Mutex
	byPrint map[string][]weak.Pointer[nameSet]
}{byPrint: map[string][]weak.Pointer[nameSet]{}}

// with returns the set with add added and drop removed, interned.
func (s *nameSet) with(add, drop map[string]struct{}) *nameSet {
	has := maps.Clone(s.has)
	changed := false
	for n := range add {
		if _, ok := has[n]; !ok {
			has[n], changed = struct{}{}, true
		}
	}
	for n := range drop {
		if _, ok := has[n]; ok {
			delete(has, n)
			changed = true
		}
	}
	if !changed {
		return s
	}
	return internNameSet(has)
}

// internNameSet returns the interned set equal to has, which it may keep.
func internNameSet(has map[string]struct{}) *nameSet {
	if len(has) == 0 {
		return emptyNames
	}
	key, print := fingerprint(has)
	nameSets.Lock()
	defer nameSets.Unlock()
	for _, wp := range nameSets.byPrint[print] {
		if s := wp.Value(); s != nil && maps.Equal(s.has, has) {
			return s
		}
	}
	s := &nameSet{has: has, key: key, print: print}
	nameSets.byPrint[print] = append(nameSets.byPrint[print], weak.Make(s))
	runtime.AddCleanup(s, forgetNames, print)
	return s
}

// forgetNames drops the collected sets interned under print.
func forgetNames(print string) {
	nameSets.Lock()
	defer nameSets.Unlock()
	live := slices.DeleteFunc(nameSets.byPrint[print], func(wp weak.Pointer[nameSet]) bool { return wp.Value() == nil })
	if len(live) == 0 {
		delete(nameSets.byPrint, print)
		return
	}
	nameSets.byPrint[print] = live
}

// firstDelta returns, sorted by name, the delta form of every resource of
// tv (all) or of those names, built once per subscription for every
// stream of the shape. The list is shared: callers must not change it.
func (tv *typeView) firstDelta(all bool, names *nameSet) []*discovery.Resource {
	if !all && len(names.has) == 0 {
		return nil
	}
	key := names
	if all {
		key = nil
	}
	tv.deltaMu.Lock()
	defer tv.deltaMu.Unlock()
	if out, ok := tv.deltaFirst[key]; ok {
		return out
	}
	var out []*discovery.Resource
	if tv.set != nil {
		tv.set.eachSorted(func(n string, e *entry) {
			if _, ok := names.has[n]; all || ok {
				out = append(out, e.delta)
			}
		})
	}
	if tv.deltaFirst == nil {
		tv.deltaFirst = map[*nameSet][]*discovery.Resource{}
	}
	if len(tv.deltaFirst) < maxNamed {
		tv.deltaFirst[key] = out
	}
	return out
}
