package translate

import (
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// defaultConnectTimeout bounds connection setup when no TrafficPolicy says
// otherwise.
const defaultConnectTimeout = 5 * time.Second

// trafficSettings is what a TrafficPolicy means for one service, after
// defaults and flavour limits are applied.
type trafficSettings struct {
	lbPolicy       cluster.Cluster_LbPolicy
	connectTimeout *durationpb.Duration
	// policy is the service's TrafficPolicy, or nil.
	policy *mesh.TrafficPolicy
}

// envoyLBPolicies maps our policy names to Envoy's.
var envoyLBPolicies = map[string]cluster.Cluster_LbPolicy{
	resource.LBRoundRobin:   cluster.Cluster_ROUND_ROBIN,
	resource.LBLeastRequest: cluster.Cluster_LEAST_REQUEST,
	resource.LBRandom:       cluster.Cluster_RANDOM,
	resource.LBRingHash:     cluster.Cluster_RING_HASH,
	resource.LBMaglev:       cluster.Cluster_MAGLEV,
}

// proxylessLBPolicies are the lb_policy values grpc-go's CDS parsing
// accepts (ROUND_ROBIN, RING_HASH with XX_HASH, LEAST_REQUEST); it refuses
// the whole Cluster for any other.
var proxylessLBPolicies = map[string]bool{
	resource.LBRoundRobin:   true,
	resource.LBLeastRequest: true,
	resource.LBRingHash:     true,
}

// trafficSettings reads the service's TrafficPolicy, if any.
func (t *translator) trafficSettings(svc *mesh.Service) trafficSettings {
	out := trafficSettings{lbPolicy: cluster.Cluster_ROUND_ROBIN, connectTimeout: durationpb.New(defaultConnectTimeout)}
	tp := t.s.TrafficPolicyFor(svc.Ref)
	if tp == nil {
		return out
	}
	out.policy = tp
	diag := func(format string, args ...any) {
		t.diag(resource.KindTrafficPolicy, tp.Namespace, tp.Name, format, args...)
	}
	for _, problem := range tp.Problems {
		diag("%s", problem)
	}
	if d := tp.Times.ConnectTimeout; d > 0 {
		out.connectTimeout = durationpb.New(d)
	}
	lb := tp.Spec.LoadBalancer
	if lb == nil || lb.Policy == "" {
		return out
	}
	policy, ok := envoyLBPolicies[lb.Policy]
	switch {
	case !ok:
		diag("load balancer policy %q is unknown; using ROUND_ROBIN", lb.Policy)
		return out
	case t.flavour == Proxyless && !proxylessLBPolicies[lb.Policy]:
		diag("load balancer policy %s is not supported by proxyless gRPC clients; they use ROUND_ROBIN", lb.Policy)
		return out
	}
	out.lbPolicy = policy
	return out
}
