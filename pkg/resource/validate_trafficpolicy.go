package resource

import (
	"fmt"
	"time"
)

// maxRingSize is the largest hash ring Envoy and gRPC build (8M entries).
const maxRingSize = 8 * 1024 * 1024

// trafficPolicy checks a TrafficPolicySpec.
func (v *validator) trafficPolicy(s *TrafficPolicySpec) {
	v.dnsLabel("spec.service", s.Service, true)
	if lb := s.LoadBalancer; lb != nil {
		v.loadBalancer("spec.loadBalancer", lb)
	}
	v.duration("spec.connectTimeout", s.ConnectTimeout)
	if cp := s.ConnectionPool; cp != nil && cp.TCPKeepalive != nil {
		v.wholeSeconds("spec.connectionPool.tcpKeepalive.time", cp.TCPKeepalive.Time)
		v.wholeSeconds("spec.connectionPool.tcpKeepalive.interval", cp.TCPKeepalive.Interval)
	}
	if od := s.OutlierDetection; od != nil {
		if od.Consecutive5xx == 0 && od.ConsecutiveGatewayErrors == 0 {
			v.errorf("spec.outlierDetection", "set consecutive5xx, consecutiveGatewayErrors or both: they say when an endpoint is ejected")
		}
		v.duration("spec.outlierDetection.interval", od.Interval)
		v.duration("spec.outlierDetection.baseEjectionTime", od.BaseEjectionTime)
		if od.MaxEjectionPercent > 100 {
			v.errorf("spec.outlierDetection.maxEjectionPercent", "must be from 0 to 100, got %d", od.MaxEjectionPercent)
		}
	}
	if l := s.Locality; l != nil {
		v.failover("spec.locality.failover", l.Failover)
	}
	if hc := s.HealthCheck; hc != nil {
		v.healthCheck("spec.healthCheck", hc)
	}
	if s.RateLimit != nil {
		v.rateLimit("spec.rateLimit", s.RateLimit)
	}
}

// loadBalancer checks the policy and its hash key: hashing policies need
// exactly one key (two would be hashed together, which nobody means), and
// the others take none.
func (v *validator) loadBalancer(path string, lb *LoadBalancer) {
	v.oneOf(path+".policy", lb.Policy, true, LBRoundRobin, LBLeastRequest, LBRandom, LBRingHash, LBMaglev)
	hashing := lb.Policy == LBRingHash || lb.Policy == LBMaglev
	keys := count(lb.HashHeader != "", lb.HashCookie != nil, lb.HashSourceIP)
	switch {
	case hashing && keys == 0:
		v.errorf(path, "%s needs a hash key: set one of hashHeader, hashCookie or hashSourceIP", lb.Policy)
	case hashing && keys > 1:
		v.errorf(path, "%s takes one hash key, got %d: set only one of hashHeader, hashCookie or hashSourceIP", lb.Policy, keys)
	case !hashing && keys > 0 && lb.Policy != "":
		v.errorf(path+"."+firstHashKey(lb), "only applies to RING_HASH and MAGLEV, not %s; remove it or change the policy", lb.Policy)
	}
	if c := lb.HashCookie; c != nil {
		if c.Name == "" {
			v.errorf(path+".hashCookie.name", "required")
		} else if !headerNamePattern.MatchString(c.Name) {
			v.errorf(path+".hashCookie.name", "must be a cookie name, got %q", c.Name)
		}
		v.duration(path+".hashCookie.ttl", c.TTL)
	}
	if rh := lb.RingHash; rh != nil {
		if lb.Policy != LBRingHash {
			v.errorf(path+".ringHash", "only applies to RING_HASH, not %s", lb.Policy)
		}
		if rh.MinRingSize > maxRingSize {
			v.errorf(path+".ringHash.minRingSize", "must be at most %d, got %d", maxRingSize, rh.MinRingSize)
		}
		if rh.MaxRingSize > maxRingSize {
			v.errorf(path+".ringHash.maxRingSize", "must be at most %d, got %d", maxRingSize, rh.MaxRingSize)
		}
		if rh.MaxRingSize != 0 && rh.MinRingSize > rh.MaxRingSize {
			v.errorf(path+".ringHash", "minRingSize %d exceeds maxRingSize %d", rh.MinRingSize, rh.MaxRingSize)
		}
	}
}

// firstHashKey names the first hash key set, for an error's path.
func firstHashKey(lb *LoadBalancer) string {
	switch {
	case lb.HashHeader != "":
		return "hashHeader"
	case lb.HashCookie != nil:
		return "hashCookie"
	}
	return "hashSourceIP"
}

// wholeSeconds checks a duration Envoy counts in whole seconds.
func (v *validator) wholeSeconds(path string, d Duration) {
	if t, ok := v.duration(path, d); ok && t%time.Second != 0 {
		v.errorf(path, "must be a whole number of seconds, got %s", string(d))
	}
}

// failover checks a failover order: each step names a region, once.
func (v *validator) failover(path string, steps []LocalityTarget) {
	seen := map[LocalityTarget]bool{}
	for i, st := range steps {
		p := index(path, i)
		if st.Region == "" {
			v.errorf(p+".region", "required")
			continue
		}
		if seen[st] {
			v.errorf(p, "%s appears twice in the failover order", localityLabel(st))
		}
		seen[st] = true
	}
}

func localityLabel(t LocalityTarget) string {
	if t.Zone == "" {
		return fmt.Sprintf("region %q", t.Region)
	}
	return fmt.Sprintf("region %q zone %q", t.Region, t.Zone)
}

// healthCheck checks an active health check.
func (v *validator) healthCheck(path string, hc *HealthCheck) {
	if hc.Interval == "" {
		v.errorf(path+".interval", "required")
	}
	if hc.Timeout == "" {
		v.errorf(path+".timeout", "required")
	}
	v.duration(path+".interval", hc.Interval)
	v.duration(path+".timeout", hc.Timeout)
	if count(hc.HTTP != nil, hc.GRPC != nil, hc.TCP != nil) != 1 {
		v.errorf(path, "set exactly one of http, grpc or tcp")
	}
	if h := hc.HTTP; h != nil {
		if h.Path == "" || h.Path[0] != '/' {
			v.errorf(path+".http.path", "must start with '/', got %q", h.Path)
		}
	}
}
