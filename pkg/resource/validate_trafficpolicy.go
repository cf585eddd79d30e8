package resource

// trafficPolicy checks a TrafficPolicySpec.
func (v *validator) trafficPolicy(s *TrafficPolicySpec) {
	v.dnsLabel("spec.service", s.Service, true)
	if lb := s.LoadBalancer; lb != nil {
		v.oneOf("spec.loadBalancer.policy", lb.Policy, true, LBRoundRobin, LBLeastRequest, LBRandom, LBRingHash, LBMaglev)
		hashing := lb.Policy == LBRingHash || lb.Policy == LBMaglev
		switch {
		case hashing && lb.HashHeader == "":
			v.errorf("spec.loadBalancer.hashHeader", "required when policy is %s: name the request header to hash", lb.Policy)
		case !hashing && lb.HashHeader != "" && lb.Policy != "":
			v.errorf("spec.loadBalancer.hashHeader", "only applies to RING_HASH and MAGLEV, not %s; remove it or change the policy", lb.Policy)
		}
	}
	v.duration("spec.connectTimeout", s.ConnectTimeout)
}
