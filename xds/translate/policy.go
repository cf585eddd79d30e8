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
	if tp.Spec.ConnectTimeout != "" {
		d, err := time.ParseDuration(string(tp.Spec.ConnectTimeout))
		if err != nil || d <= 0 {
			diag("connectTimeout %q is not a positive duration; using %s", tp.Spec.ConnectTimeout, defaultConnectTimeout)
		} else {
			out.connectTimeout = durationpb.New(d)
		}
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

// parseDuration parses a rule's duration, reporting a diagnostic against
// the Route when it is malformed.
func (t *translator) parseDuration(r *mesh.Route, field string, d resource.Duration) (*durationpb.Duration, bool) {
	if d == "" {
		return nil, false
	}
	v, err := time.ParseDuration(string(d))
	if err != nil || v < 0 {
		t.diag(resource.KindRoute, r.Namespace, r.Name, "%s %q is not a duration; ignored", field, d)
		return nil, false
	}
	return durationpb.New(v), true
}
