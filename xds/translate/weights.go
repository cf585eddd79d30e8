package translate

import (
	"math"

	"embassy.dev/embassy/pkg/mesh"
)

// weightDivisor is what every endpoint weight of a cluster is divided by so
// that the weights, and so every locality's sum and the sum of those, fit
// in a uint32; 1 when they already do. Envoy refuses a load assignment
// whose sums overflow ("The sum of weights of all upstream hosts in a
// locality exceeds 4294967295", upstream/upstream_impl.cc; ring hash:
// "sum of weights ... exceeds"), and a sum computed in uint32 would wrap
// instead and send traffic to the wrong endpoints.
//
// Dividing by ceil(total / (MaxUint32 - n)) and rounding each weight down
// to at least 1 keeps the total at most MaxUint32: each weight loses less
// than 1 to rounding down and gains at most 1 from the floor.
func weightDivisor(eps []mesh.Endpoint) uint64 {
	var total uint64
	for _, ep := range eps {
		total += uint64(max(ep.Weight, 1))
	}
	if total <= math.MaxUint32 {
		return 1
	}
	room := uint64(math.MaxUint32) - uint64(len(eps))
	return (total + room - 1) / room
}

// scaledWeight is an endpoint's weight divided by d, at least 1.
func scaledWeight(w uint32, d uint64) uint32 {
	return uint32(max(uint64(max(w, 1))/d, 1))
}
