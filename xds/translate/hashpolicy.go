package translate

import (
	"maps"
	"slices"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// hashPolicies lists the hash keys of the target services that hash
// (RING_HASH, or MAGLEV for Envoy), once each: a header, a cookie or the
// caller's source IP. gRPC hashes only on headers; for the other keys
// proxyless clients get a Diagnostic and hash each RPC at random.
func (t *translator) hashPolicies(targets []*mesh.Service) []*route.RouteAction_HashPolicy {
	byKey := map[string]*route.RouteAction_HashPolicy{}
	for _, svc := range targets {
		ts := t.trafficSettings(svc)
		if ts.lbPolicy != cluster.Cluster_RING_HASH && ts.lbPolicy != cluster.Cluster_MAGLEV {
			continue
		}
		tp := ts.policy
		lb := tp.Spec.LoadBalancer
		diag := func(format string, args ...any) {
			t.diag(resource.KindTrafficPolicy, tp.Namespace, tp.Name, format, args...)
		}
		switch {
		case lb.HashHeader != "":
			byKey["header:"+lb.HashHeader] = &route.RouteAction_HashPolicy{PolicySpecifier: &route.RouteAction_HashPolicy_Header_{
				Header: &route.RouteAction_HashPolicy_Header{HeaderName: lb.HashHeader},
			}}
		case t.flavour == Proxyless && (lb.HashCookie != nil || lb.HashSourceIP):
			diag("hashCookie and hashSourceIP are not supported by proxyless gRPC, which hashes only on headers; its RPCs are hashed at random")
		case lb.HashCookie != nil:
			byKey["cookie:"+lb.HashCookie.Name] = &route.RouteAction_HashPolicy{PolicySpecifier: &route.RouteAction_HashPolicy_Cookie_{
				Cookie: hashCookie(lb.HashCookie, tp.Times.HashCookieTTL),
			}}
		case lb.HashSourceIP:
			byKey["source-ip"] = &route.RouteAction_HashPolicy{PolicySpecifier: &route.RouteAction_HashPolicy_ConnectionProperties_{
				ConnectionProperties: &route.RouteAction_HashPolicy_ConnectionProperties{SourceIp: true},
			}}
		default:
			diag("load balancer policy %s has no hash key; requests are hashed at random", lb.Policy)
		}
	}
	var out []*route.RouteAction_HashPolicy
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		out = append(out, byKey[k])
	}
	return out
}

// hashCookie hashes a cookie; with a TTL the proxy sets the cookie on
// responses to requests that lack it, making sessions sticky.
func hashCookie(c *resource.HashCookie, ttl time.Duration) *route.RouteAction_HashPolicy_Cookie {
	return &route.RouteAction_HashPolicy_Cookie{Name: c.Name, Ttl: positiveDuration(ttl)}
}

// ringHashConfig sizes a RING_HASH cluster's ring. Both Envoy and gRPC
// read it; the hash function stays XX_HASH, the only one gRPC accepts.
func ringHashConfig(ts trafficSettings) *cluster.Cluster_RingHashLbConfig_ {
	if ts.lbPolicy != cluster.Cluster_RING_HASH || ts.policy.Spec.LoadBalancer.RingHash == nil {
		return nil
	}
	rh := ts.policy.Spec.LoadBalancer.RingHash
	cfg := &cluster.Cluster_RingHashLbConfig{}
	if rh.MinRingSize != 0 {
		cfg.MinimumRingSize = wrapperspb.UInt64(rh.MinRingSize)
	}
	if rh.MaxRingSize != 0 {
		cfg.MaximumRingSize = wrapperspb.UInt64(rh.MaxRingSize)
	}
	return &cluster.Cluster_RingHashLbConfig_{RingHashLbConfig: cfg}
}
