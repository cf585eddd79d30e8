package envoyrules

import (
	"fmt"
	"math"
	"time"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"
)

// weightedTotalZeroRule: weighted clusters whose weights sum to 0 could
// never pick a cluster.
var weightedTotalZeroRule = Rule{
	ID:         "route.weighted-clusters-positive",
	Source:     "source/common/router/weighted_cluster_specifier.cc",
	EnvoyError: "Sum of weights in the weighted_cluster must be greater than 0.",
	message: func(m proto.Message) []finding {
		if sum, ok := weightSum(m); ok && sum == 0 {
			return []finding{{".route.weighted_clusters", "Sum of weights in the weighted_cluster must be greater than 0."}}
		}
		return nil
	},
}

// weightedTotalOverflowRule: Envoy sums the weights in 64 bits and
// refuses a sum that does not fit 32.
var weightedTotalOverflowRule = Rule{
	ID:         "route.weighted-clusters-overflow",
	Source:     "source/common/router/weighted_cluster_specifier.cc",
	EnvoyError: "The sum of weights of all weighted clusters of route {} exceeds 4294967295",
	message: func(m proto.Message) []finding {
		if sum, ok := weightSum(m); ok && sum > math.MaxUint32 {
			return []finding{{".route.weighted_clusters", fmt.Sprintf(
				"The sum of weights of all weighted clusters of route %s exceeds %d", m.(*route.Route).GetName(), uint64(math.MaxUint32))}}
		}
		return nil
	},
}

// weightSum is the sum of a route's weighted cluster weights; ok is false
// for a message that is not a Route with weighted clusters.
func weightSum(m proto.Message) (sum uint64, ok bool) {
	r, isRoute := m.(*route.Route)
	wc := r.GetRoute().GetWeightedClusters()
	if !isRoute || wc == nil {
		return 0, false
	}
	for _, c := range wc.GetClusters() {
		sum += uint64(c.GetWeight().GetValue())
	}
	return sum, true
}

// retryBackoffRule: a retry back-off whose maximum is below its base is
// refused, after Envoy rounds both to whole milliseconds of at least 1.
var retryBackoffRule = Rule{
	ID:         "route.retry-backoff-order",
	Source:     "source/common/router/retry_policy_impl.cc",
	EnvoyError: "retry_policy.max_interval must greater than or equal to the base_interval",
	message: func(m proto.Message) []finding {
		b, ok := m.(*route.RetryPolicy_RetryBackOff)
		if !ok || b.GetMaxInterval() == nil {
			return nil
		}
		if roundedMillis(b.GetMaxInterval().AsDuration()) < roundedMillis(b.GetBaseInterval().AsDuration()) {
			return []finding{{".max_interval", "retry_policy.max_interval must greater than or equal to the base_interval"}}
		}
		return nil
	},
}

// roundedMillis is a back-off interval as Envoy reads it: whole
// milliseconds, at least 1.
func roundedMillis(d time.Duration) int64 { return max(d.Milliseconds(), 1) }
