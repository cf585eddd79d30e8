package translate

import (
	"sort"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"embassy.dev/embassy/pkg/resource"
)

// clusterLoadAssignment builds the endpoints of a cluster, grouped by
// locality. Each locality carries the sum of its endpoints' weights: gRPC
// silently drops a locality without load_balancing_weight. With a failover
// order, each locality gets its priority in it. Weights whose sum would
// not fit in a uint32 are scaled down (see weightDivisor), and scaled says
// so.
func clusterLoadAssignment(c clusterRef, failover []resource.LocalityTarget) (cla *endpoint.ClusterLoadAssignment, scaled bool) {
	groups := map[resource.Locality][]*endpoint.LbEndpoint{}
	weights := map[resource.Locality]uint32{}
	eps := c.cluster().Endpoints()
	divisor := weightDivisor(eps)
	for _, ep := range eps {
		w := scaledWeight(ep.Weight, divisor)
		groups[ep.Locality] = append(groups[ep.Locality], lbEndpoint(ep.Address, ep.Ports[c.port.Name], w))
		weights[ep.Locality] += w
	}
	localities := make([]resource.Locality, 0, len(groups))
	for l := range groups {
		localities = append(localities, l)
	}
	sort.Slice(localities, func(i, j int) bool { return localityLess(localities[i], localities[j]) })
	var priorities map[resource.Locality]uint32
	if len(failover) > 0 {
		priorities = localityPriorities(localities, failover)
		sort.SliceStable(localities, func(i, j int) bool { return priorities[localities[i]] < priorities[localities[j]] })
	}
	out := &endpoint.ClusterLoadAssignment{ClusterName: c.name()}
	for _, l := range localities {
		eps := groups[l]
		sort.SliceStable(eps, func(i, j int) bool { return socketLess(eps[i], eps[j]) })
		out.Endpoints = append(out.Endpoints, &endpoint.LocalityLbEndpoints{
			Locality:            localityProto(l),
			LoadBalancingWeight: wrapperspb.UInt32(weights[l]),
			Priority:            priorities[l],
			LbEndpoints:         eps,
		})
	}
	return out, divisor > 1
}

// lbEndpoint builds one weighted endpoint.
func lbEndpoint(address string, port, weight uint32) *endpoint.LbEndpoint {
	return &endpoint.LbEndpoint{
		HostIdentifier: &endpoint.LbEndpoint_Endpoint{
			Endpoint: &endpoint.Endpoint{Address: socketAddress(address, port)},
		},
		LoadBalancingWeight: wrapperspb.UInt32(weight),
	}
}

// socketAddress builds a TCP address.
func socketAddress(address string, port uint32) *core.Address {
	return &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
		Protocol:      core.SocketAddress_TCP,
		Address:       address,
		PortSpecifier: &core.SocketAddress_PortValue{PortValue: port},
	}}}
}

// localityProto converts a locality. It is set even when empty: gRPC's xDS
// client NACKs a LocalityLbEndpoints without a locality ("locality without
// ID"), while Envoy treats an empty one as the default locality.
func localityProto(l resource.Locality) *core.Locality {
	return &core.Locality{Region: l.Region, Zone: l.Zone, SubZone: l.SubZone}
}

func localityLess(a, b resource.Locality) bool {
	if a.Region != b.Region {
		return a.Region < b.Region
	}
	if a.Zone != b.Zone {
		return a.Zone < b.Zone
	}
	return a.SubZone < b.SubZone
}

func socketLess(a, b *endpoint.LbEndpoint) bool {
	sa := a.GetEndpoint().GetAddress().GetSocketAddress()
	sb := b.GetEndpoint().GetAddress().GetSocketAddress()
	if sa.GetAddress() != sb.GetAddress() {
		return sa.GetAddress() < sb.GetAddress()
	}
	return sa.GetPortValue() < sb.GetPortValue()
}
