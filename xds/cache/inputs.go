package cache

import (
	"reflect"
	"slices"

	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// The checks find what is wrong in the Envoy resources; the mesh
// resources that produced them are the ones that changed since the last
// revision every node was served: before the change the same translator
// made a set that passed. That takes no bookkeeping in the translator,
// costs one walk of two snapshots only when a push refuses something, and
// names the change rather than guessing from Envoy names. It names every
// change of a batch the debounce merged, and all of a first revision.

// changedInputs lists, sorted, the mesh resources of cur that differ from
// prev's, were added or were deleted; with prev nil, all of cur's. At most
// events.MaxInputs are listed; more counts the others.
func changedInputs(prev, cur *mesh.Snapshot) (inputs []string, more int) {
	now := meshInputs(cur)
	var was map[string]any
	if prev != nil {
		was = meshInputs(prev)
	}
	for key, spec := range now {
		if old, ok := was[key]; !ok || !reflect.DeepEqual(old, spec) {
			inputs = append(inputs, key)
		}
	}
	for key := range was {
		if _, ok := now[key]; !ok && prev != nil {
			inputs = append(inputs, key)
		}
	}
	slices.Sort(inputs)
	if len(inputs) > events.MaxInputs {
		return inputs[:events.MaxInputs], len(inputs) - events.MaxInputs
	}
	return inputs, 0
}

// meshInputs is every resource of a snapshot by key, with the spec the
// translator reads. The Mesh resource, of which there is one whatever its
// name, is keyed by its kind.
func meshInputs(m *mesh.Snapshot) map[string]any {
	in := map[string]any{string(resource.KindMesh): m.Mesh}
	add := func(kind resource.Kind, ns, name string, spec any) {
		in[resource.Key{Kind: kind, Namespace: ns, Name: name}.String()] = spec
	}
	for _, s := range m.Services {
		add(resource.KindService, s.Ref.Namespace, s.Ref.Name, s.Spec)
	}
	for _, w := range m.Workloads {
		add(resource.KindWorkload, w.Namespace, w.Name, w.Spec)
	}
	for _, r := range m.Routes {
		add(resource.KindRoute, r.Namespace, r.Name, r.Spec)
	}
	for _, t := range m.TrafficPolicies {
		add(resource.KindTrafficPolicy, t.Namespace, t.Name, t.Spec)
	}
	for _, p := range m.AuthorizationPolicies {
		add(resource.KindAuthorizationPolicy, p.Namespace, p.Name, p.Spec)
	}
	return in
}
