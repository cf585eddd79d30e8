package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sync"
	"unique"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"embassy.dev/embassy/xds/translate"
)

// servedTypes are the xDS types the publisher fills, in a fixed order so
// that hashes over several types are deterministic.
var servedTypes = []resourcev3.Type{
	resourcev3.ListenerType,
	resourcev3.RouteType,
	resourcev3.ScopedRouteType,
	resourcev3.ClusterType,
	resourcev3.EndpointType,
	resourcev3.SecretType,
	resourcev3.ExtensionConfigType,
}

// entry is one resource with its content hash and its encoding. Entries
// of the same type, name and content are one value across shapes and
// pushes (encodings), so a resource is marshalled once for every proxy
// that holds it and an unchanged one is the same pointer from one push to
// the next.
type entry struct {
	res types.Resource
	// hash is go-control-plane's hash of the encoding (what its delta
	// version map would hold), or an authorization bundle's revision.
	hash string
	any  *anypb.Any
	// delta is the resource as an incremental response carries it.
	delta *discovery.Resource
}

// typeSet is the resources of one xDS type. It is never mutated once
// built, so views share it. A set built over a base (overlay) holds only
// its own entries, which shadow the base's of the same name: a sidecar's
// few inbound resources over the thousands every sidecar shares, without
// copying those per shape.
type typeSet struct {
	items   map[string]*entry
	version string
	base    *typeSet

	// sorted is items' names in order, and sortedEntries their entries,
	// sorted once: every shape layered on a set lists its names (for the
	// checks and full answers).
	sortOnce      sync.Once
	sorted        []string
	sortedEntries []*entry
	// print is the Fingerprint of the names (namesPrint), worked out once.
	printOnce sync.Once
	print     string
}

// get returns the resource named name, looking through to the base.
func (t *typeSet) get(name string) (*entry, bool) {
	if e, ok := t.items[name]; ok {
		return e, true
	}
	if t.base != nil {
		e, ok := t.base.items[name]
		return e, ok
	}
	return nil, false
}

// each calls fn for every resource of the set, its own first.
func (t *typeSet) each(fn func(name string, e *entry)) {
	for n, e := range t.items {
		fn(n, e)
	}
	if t.base == nil {
		return
	}
	for n, e := range t.base.items {
		if _, shadowed := t.items[n]; !shadowed {
			fn(n, e)
		}
	}
}

// size counts the set's resources.
func (t *typeSet) size() int {
	n := len(t.items)
	if t.base != nil {
		n += len(t.base.items)
		for name := range t.items {
			if _, ok := t.base.items[name]; ok {
				n--
			}
		}
	}
	return n
}

// names returns the set's resource names, sorted. A layered set merges
// its own few names into its base's, which are sorted once for all the
// sets layered on it.
func (t *typeSet) names() []string {
	if t.base == nil {
		return t.ownNames()
	}
	out := make([]string, 0, len(t.base.items)+len(t.items))
	t.eachSorted(func(n string, _ *entry) { out = append(out, n) })
	return out
}

// eachSorted calls fn for every resource of the set in name order,
// merging its own sorted entries into its base's, each sorted once.
func (t *typeSet) eachSorted(fn func(name string, e *entry)) {
	own, ownEntries := t.ownSorted()
	if t.base == nil {
		for i, n := range own {
			fn(n, ownEntries[i])
		}
		return
	}
	base, baseEntries := t.base.ownSorted()
	i := 0
	for j, n := range base {
		for i < len(own) && own[i] < n {
			fn(own[i], ownEntries[i])
			i++
		}
		if i < len(own) && own[i] == n {
			continue // shadowed: own[i] goes in next
		}
		fn(n, baseEntries[j])
	}
	for ; i < len(own); i++ {
		fn(own[i], ownEntries[i])
	}
}

// ownNames returns the names of the set's own items, sorted once.
func (t *typeSet) ownNames() []string {
	names, _ := t.ownSorted()
	return names
}

// ownSorted returns the set's own names and, in the same order, their
// entries, sorted once.
func (t *typeSet) ownSorted() ([]string, []*entry) {
	t.sortOnce.Do(func() {
		t.sorted = slices.Sorted(maps.Keys(t.items))
		t.sortedEntries = make([]*entry, len(t.sorted))
		for i, n := range t.sorted {
			t.sortedEntries[i] = t.items[n]
		}
	})
	return t.sorted, t.sortedEntries
}

// resourceSet is a typeSet per type URL; a missing type has no resources.
type resourceSet map[resourcev3.Type]*typeSet

// newResourceSet indexes translated resources by type and name, and takes
// each one's entry from enc: go-control-plane's own deterministic marshal
// and hash, so the delta versions equal what ConstructVersionMap would
// compute.
func newResourceSet(r *translate.Resources, enc *encodings) (resourceSet, error) {
	set := resourceSet{}
	if r == nil {
		return set, nil
	}
	lists := r.ByType()
	for _, typ := range servedTypes {
		if len(lists[typ]) == 0 {
			continue
		}
		items := make(map[string]*entry, len(lists[typ]))
		for _, res := range lists[typ] {
			name, e, err := enc.entry(typ, res)
			if err != nil {
				return nil, fmt.Errorf("marshal %s: %w", typ, err)
			}
			if err := addEntry(items, typ, name, e); err != nil {
				return nil, err
			}
		}
		set[typ] = newTypeSet(typ, items)
	}
	return set, nil
}

// addEntry adds a resource to a type's items. Two resources of one type
// and name would be one in the set and two in Envoy's eyes (a State of
// the World update holding both is refused), so that is an error.
func addEntry(items map[string]*entry, typ resourcev3.Type, name string, e *entry) error {
	if _, dup := items[name]; dup {
		return fmt.Errorf("two %s resources are named %q", typ, name)
	}
	items[name] = e
	return nil
}

// newTypeSet versions a type's items: by content, or by bundle revision
// for authorization bundles.
func newTypeSet(typ resourcev3.Type, items map[string]*entry) *typeSet {
	ts := &typeSet{items: items, version: versionOf(items)}
	if typ == resourcev3.ExtensionConfigType {
		versionByBundle(ts)
	}
	return ts
}

// versionOf hashes a type's names and content hashes, so the version of a
// type changes exactly when one of its resources does. It sums one hash
// per resource, so no names are sorted: the cost is one pass.
func versionOf(items map[string]*entry) string {
	var sum [4]uint64
	for name, e := range items {
		h := sha256.Sum256([]byte(name + "\x00" + e.hash))
		for i := range sum {
			sum[i] += binary.LittleEndian.Uint64(h[8*i:])
		}
	}
	var b [32]byte
	for i, v := range sum {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	return fmt.Sprintf("%s%02x", hex.EncodeToString(b[:7]), len(items)%256)
}

// layeredVersion is the version of own over base: derived from the two
// versions, so a shape's version costs nothing per push.
func layeredVersion(base, own string) string {
	h := sha256.Sum256([]byte(base + "\x00" + own))
	return hex.EncodeToString(h[:8])
}

// key identifies the set's content; an empty set has the empty key. Nodes
// whose inbound sets have the same key share one view.
func (s resourceSet) key() string {
	if len(s) == 0 {
		return ""
	}
	h := sha256.New()
	for _, typ := range servedTypes {
		if ts := s[typ]; ts != nil {
			fmt.Fprintf(h, "%s=%s\n", typ, ts.version)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// overlay returns base with over's resources added; over wins on a name
// clash. Neither is copied: a type both hold is a set of over's entries
// layered on base's, so a large shared outbound set is never copied per
// shape. Layers do not stack: a layered base is flattened first.
func overlay(base, over resourceSet) resourceSet {
	out := maps.Clone(base)
	if out == nil {
		out = resourceSet{}
	}
	for typ, o := range over {
		b := base[typ]
		if b == nil {
			out[typ] = o
			continue
		}
		if b.base != nil {
			b = flatten(b)
		}
		if o.base != nil {
			o = flatten(o)
		}
		out[typ] = &typeSet{items: o.items, base: b, version: layeredVersion(b.version, o.version)}
	}
	return out
}

// flatten copies a layered set into one map.
func flatten(t *typeSet) *typeSet {
	out := &typeSet{items: make(map[string]*entry, t.size()), version: t.version}
	t.each(func(n string, e *entry) { out.items[n] = e })
	return out
}

// emptyVersion is the version of a type with no resources.
var emptyVersion = versionOf(nil)

// Intern returns the one copy of a resource name that every set,
// subscription and request of the process shares.
func Intern(name string) string { return unique.Make(name).Value() }

// entryOf builds the entry of res, encoded as typ.
func entryOf(typ string, res types.Resource) (string, *entry, error) {
	b, err := cachev3.MarshalResource(res)
	if err != nil {
		return "", nil, err
	}
	name := Intern(cachev3.GetResourceName(res))
	return name, newEntry(name, res, cachev3.HashResource(b), &anypb.Any{TypeUrl: typ, Value: b}), nil
}

// newEntry builds an entry with its delta form.
func newEntry(name string, res types.Resource, hash string, a *anypb.Any) *entry {
	return &entry{res: res, hash: hash, any: a, delta: &discovery.Resource{Name: name, Version: hash, Resource: a}}
}
