package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"embassy.dev/embassy/xds/translate"
)

// servedTypes are the xDS types the publisher fills, in a fixed order so
// that hashes over several types are deterministic.
var servedTypes = []resourcev3.Type{
	resourcev3.ListenerType,
	resourcev3.RouteType,
	resourcev3.ClusterType,
	resourcev3.EndpointType,
	resourcev3.SecretType,
	resourcev3.ExtensionConfigType,
}

// typeSet is the resources of one xDS type with each one's content hash.
// It is never mutated once built, so snapshots share its maps.
type typeSet struct {
	items   map[string]types.ResourceWithTTL
	hashes  map[string]string
	version string
}

// resourceSet is a typeSet per type URL; a missing type has no resources.
type resourceSet map[resourcev3.Type]*typeSet

// newResourceSet indexes translated resources by type and name and hashes
// each one with go-control-plane's own deterministic marshal and hash, so
// the delta version map equals what ConstructVersionMap would compute.
func newResourceSet(r *translate.Resources) (resourceSet, error) {
	set := resourceSet{}
	if r == nil {
		return set, nil
	}
	lists := map[resourcev3.Type][]types.Resource{
		resourcev3.ListenerType: asResources(r.Listeners),
		resourcev3.RouteType:    asResources(r.Routes),
		resourcev3.ClusterType:  asResources(r.Clusters),
		resourcev3.EndpointType: asResources(r.Endpoints),
		resourcev3.SecretType:   asResources(r.Secrets),
		// Only a workload's agent asks for these: its authorization bundles.
		resourcev3.ExtensionConfigType: asResources(r.ExtensionConfigs),
	}
	for _, typ := range servedTypes {
		if len(lists[typ]) == 0 {
			continue
		}
		ts := &typeSet{items: map[string]types.ResourceWithTTL{}, hashes: map[string]string{}}
		for _, res := range lists[typ] {
			b, err := cachev3.MarshalResource(res)
			if err != nil {
				return nil, fmt.Errorf("marshal %s: %w", typ, err)
			}
			name := cachev3.GetResourceName(res)
			ts.items[name] = types.ResourceWithTTL{Resource: res}
			ts.hashes[name] = cachev3.HashResource(b)
		}
		ts.version = versionOf(ts.hashes)
		if typ == resourcev3.ExtensionConfigType {
			versionByBundle(ts)
		}
		set[typ] = ts
	}
	return set, nil
}

func asResources[T types.Resource](in []T) []types.Resource {
	out := make([]types.Resource, len(in))
	for i, r := range in {
		out[i] = r
	}
	return out
}

// versionOf hashes a type's names and content hashes, so the version of a
// type changes exactly when one of its resources does.
func versionOf(hashes map[string]string) string {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(hashes)) {
		fmt.Fprintf(h, "%s\x00%s\n", name, hashes[name])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// key identifies the set's content; an empty set has the empty key. Nodes
// whose inbound sets have the same key share one cache snapshot.
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
// clash. Types over does not touch keep base's maps, so a large shared
// outbound set is never copied per shape.
func overlay(base, over resourceSet) resourceSet {
	out := resourceSet{}
	for typ, ts := range base {
		out[typ] = ts
	}
	for typ, o := range over {
		b := base[typ]
		if b == nil {
			out[typ] = o
			continue
		}
		m := &typeSet{items: make(map[string]types.ResourceWithTTL, len(b.items)+len(o.items)), hashes: make(map[string]string, len(b.hashes)+len(o.hashes))}
		for _, src := range []*typeSet{b, o} {
			for n, r := range src.items {
				m.items[n] = r
				m.hashes[n] = src.hashes[n]
			}
		}
		m.version = versionOf(m.hashes)
		out[typ] = m
	}
	return out
}

// emptyVersion is the version of a type with no resources.
var emptyVersion = versionOf(nil)

// snapshot builds a cache snapshot with per-type content versions and the
// delta version map already filled in. Filling VersionMap here matters:
// the cache would otherwise build it lazily on first delta use, writing to
// a snapshot that other nodes are reading.
func (s resourceSet) snapshot() *cachev3.Snapshot {
	snap := &cachev3.Snapshot{VersionMap: map[string]map[string]string{}}
	for i := range snap.Resources {
		if url, err := cachev3.GetResponseTypeURL(types.ResponseType(i)); err == nil {
			snap.VersionMap[url] = map[string]string{}
		}
	}
	for _, typ := range servedTypes {
		idx := cachev3.GetResponseType(typ)
		ts := s[typ]
		if ts == nil {
			snap.Resources[idx] = cachev3.Resources{Version: emptyVersion, Items: map[string]types.ResourceWithTTL{}}
			continue
		}
		snap.Resources[idx] = cachev3.Resources{Version: ts.version, Items: ts.items}
		snap.VersionMap[typ] = ts.hashes
	}
	return snap
}
