package translate

import (
	"sort"
)

// Merge concatenates resource sets and re-sorts each list by name. Nil sets
// are skipped. Resources are shared, not copied: callers must not mutate
// them.
func Merge(rs ...*Resources) *Resources {
	out := &Resources{}
	for _, r := range rs {
		if r == nil {
			continue
		}
		out.Listeners = append(out.Listeners, r.Listeners...)
		out.Routes = append(out.Routes, r.Routes...)
		out.ScopedRoutes = append(out.ScopedRoutes, r.ScopedRoutes...)
		out.Clusters = append(out.Clusters, r.Clusters...)
		out.Endpoints = append(out.Endpoints, r.Endpoints...)
		out.Secrets = append(out.Secrets, r.Secrets...)
		out.ExtensionConfigs = append(out.ExtensionConfigs, r.ExtensionConfigs...)
	}
	sortListeners(out.Listeners)
	sortRoutes(out.Routes)
	sortScopes(out.ScopedRoutes)
	sortClusters(out.Clusters)
	sort.SliceStable(out.Endpoints, func(i, j int) bool {
		return out.Endpoints[i].GetClusterName() < out.Endpoints[j].GetClusterName()
	})
	sort.SliceStable(out.Secrets, func(i, j int) bool { return out.Secrets[i].GetName() < out.Secrets[j].GetName() })
	sort.SliceStable(out.ExtensionConfigs, func(i, j int) bool {
		return out.ExtensionConfigs[i].GetName() < out.ExtensionConfigs[j].GetName()
	})
	return out
}
