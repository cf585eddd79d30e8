package translate

import (
	"sort"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"

	"embassy.dev/embassy/pkg/resource"
)

// commonLBConfig turns on locality-weighted load balancing for Envoy:
// traffic is split between localities by their load_balancing_weight
// before an endpoint is picked. gRPC always balances that way and reads no
// common_lb_config, so proxyless clusters leave it out.
func (t *translator) commonLBConfig(ts trafficSettings) *cluster.Cluster_CommonLbConfig {
	if t.flavour == Proxyless || ts.policy == nil || ts.policy.Spec.Locality == nil || !ts.policy.Spec.Locality.Weighted {
		return nil
	}
	return &cluster.Cluster_CommonLbConfig{LocalityConfigSpecifier: &cluster.Cluster_CommonLbConfig_LocalityWeightedLbConfig_{
		LocalityWeightedLbConfig: &cluster.Cluster_CommonLbConfig_LocalityWeightedLbConfig{},
	}}
}

// failoverOrder returns the service's failover steps, or nil.
func failoverOrder(ts trafficSettings) []resource.LocalityTarget {
	if ts.policy == nil || ts.policy.Spec.Locality == nil {
		return nil
	}
	return ts.policy.Spec.Locality.Failover
}

// localityPriorities gives each locality the priority of the first
// failover step it falls in (a step with a zone takes only that zone);
// localities in no step come last. Priorities are then renumbered from 0
// without gaps, since gRPC refuses an assignment with a missing priority.
// The order is the same for every caller, which keeps the assignment
// shared by every proxy.
func localityPriorities(localities []resource.Locality, steps []resource.LocalityTarget) map[resource.Locality]uint32 {
	raw := map[resource.Locality]int{}
	used := map[int]bool{}
	for _, l := range localities {
		p := len(steps)
		for i, s := range steps {
			if s.Region == l.Region && (s.Zone == "" || s.Zone == l.Zone) {
				p = i
				break
			}
		}
		raw[l] = p
		used[p] = true
	}
	levels := make([]int, 0, len(used))
	for p := range used {
		levels = append(levels, p)
	}
	sort.Ints(levels)
	rank := map[int]uint32{}
	for i, p := range levels {
		rank[p] = uint32(i)
	}
	out := map[resource.Locality]uint32{}
	for l, p := range raw {
		out[l] = rank[p]
	}
	return out
}
