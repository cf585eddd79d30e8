package resource

// workload checks a WorkloadSpec.
func (v *validator) workload(s *WorkloadSpec) {
	v.ipAddress("spec.address", s.Address)
	if len(s.Services) == 0 {
		v.errorf("spec.services", "at least one service is required")
	}
	v.dnsLabels("spec.services", "service", s.Services)
	ports := map[string]int{}
	for i, p := range s.Ports {
		path := index("spec.ports", i)
		if p.Name == "" {
			v.errorf(path+".name", "required: the name of a port of the workload's services")
		} else if j, dup := ports[p.Name]; dup {
			v.errorf(path+".name", "duplicate port name %q (also spec.ports[%d])", p.Name, j)
		} else {
			ports[p.Name] = i
		}
		v.portRange(path+".port", p.Port, 1)
		v.portRange(path+".appPort", p.AppPort, 0)
		if p.AppPort == SidecarOutboundPort {
			v.errorf(path+".appPort", "%d is where the sidecar listens for its apps' outbound HTTP on 127.0.0.1; the app behind it must listen on another port", SidecarOutboundPort)
		}
	}
	v.dnsLabel("spec.serviceAccount", s.ServiceAccount, false)
	v.egress(s.Egress)
}
