package cache

import (
	"maps"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"embassy.dev/embassy/xds/translate"
)

// withoutClashes is base less the listeners bound where one of own's
// listeners binds, as translate.ForProxy merges a sidecar's sets: a
// workload on 127.0.0.1 whose port a tcp service also uses keeps its
// inbound listener, and the outbound one is left out. A base without
// clashes is returned as it is, so shapes keep sharing its maps.
func withoutClashes(base, own resourceSet) resourceSet {
	bl, ol := base[resourcev3.ListenerType], own[resourcev3.ListenerType]
	if bl == nil || ol == nil {
		return base
	}
	kept := translate.WithoutClashes(typed[*listener.Listener](bl), typed[*listener.Listener](ol))
	if len(kept) == bl.size() {
		return base
	}
	ts := &typeSet{items: make(map[string]*entry, len(kept))}
	for _, l := range kept {
		n := l.GetName()
		ts.items[n], _ = bl.get(n)
	}
	ts.version = versionOf(ts.items)
	out := maps.Clone(base)
	out[resourcev3.ListenerType] = ts
	return out
}
