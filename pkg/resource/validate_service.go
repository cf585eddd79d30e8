package resource

import (
	"fmt"
	"net/netip"
	"strings"
)

// service checks a ServiceSpec: its ports, static endpoints and the
// service accounts allowed to serve it.
func (v *validator) service(s *ServiceSpec) {
	if len(s.Ports) == 0 {
		v.errorf("spec.ports", "at least one port is required")
	}
	names := map[string]int{}
	numbers := map[uint32]int{}
	for i, p := range s.Ports {
		path := index("spec.ports", i)
		v.dnsLabel(path+".name", p.Name, true)
		if j, dup := names[p.Name]; dup && p.Name != "" {
			v.errorf(path+".name", "duplicate port name %q (also spec.ports[%d])", p.Name, j)
		} else {
			names[p.Name] = i
		}
		v.portRange(path+".port", p.Port, 1)
		if j, dup := numbers[p.Port]; dup && p.Port != 0 {
			v.errorf(path+".port", "duplicate port %d (also spec.ports[%d])", p.Port, j)
		} else {
			numbers[p.Port] = i
		}
		v.oneOf(path+".protocol", p.Protocol, true, ProtocolHTTP, ProtocolHTTP2, ProtocolGRPC, ProtocolTCP)
		v.portRange(path+".targetPort", p.TargetPort, 0)
	}
	for i, e := range s.Endpoints {
		path := index("spec.endpoints", i)
		v.ipAddress(path+".address", e.Address)
		v.portRange(path+".port", e.Port, 0)
	}
	v.dnsLabels("spec.serviceAccounts", "service account", s.ServiceAccounts)
	v.egress(s.Egress)
}

// ipAddress checks that s is an IPv4 or IPv6 address (no host names: the
// data plane dials endpoints without resolving them).
func (v *validator) ipAddress(path, s string) {
	if s == "" {
		v.errorf(path, "required, an IP address")
		return
	}
	if _, err := netip.ParseAddr(s); err != nil {
		v.errorf(path, "must be an IP address, got %q", s)
	}
}

// portNames renders a service's ports for messages, e.g. "http (9080)".
func portNames(s *ServiceSpec) string {
	names := make([]string, len(s.Ports))
	for i, p := range s.Ports {
		names[i] = fmt.Sprintf("%s (%d)", p.Name, p.Port)
	}
	return strings.Join(names, ", ")
}
