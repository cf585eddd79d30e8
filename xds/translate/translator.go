package translate

import (
	"fmt"
	"sort"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// translator carries one translation's inputs and the diagnostics it
// collects. It lives for a single call of an exported function, so the
// package keeps no state between calls.
type translator struct {
	s       *mesh.Snapshot
	flavour Flavour
	diags   []Diagnostic
	// subsets holds the label-subset clusters routes reference, by name;
	// only those are generated, since every possible subset is unbounded.
	subsets map[string]clusterRef
}

func newTranslator(s *mesh.Snapshot, f Flavour) *translator {
	return &translator{s: s, flavour: f, subsets: map[string]clusterRef{}}
}

// clusterRef is one outbound cluster: a service port, optionally narrowed
// to the endpoints whose labels include subset.
type clusterRef struct {
	svc    *mesh.Service
	port   resource.ServicePort
	subset map[string]string
}

func (c clusterRef) name() string { return outboundClusterName(c.svc.Ref, c.port.Port, c.subset) }

// diag records a diagnostic against a mesh resource.
func (t *translator) diag(kind resource.Kind, namespace, name, format string, args ...any) {
	key := resource.Key{Kind: kind, Namespace: namespace, Name: name}
	t.diags = append(t.diags, Diagnostic{Resource: key.String(), Message: fmt.Sprintf(format, args...)})
}

// diagnostics returns the collected diagnostics sorted and without
// duplicates: builders shared by routes and clusters may report the same
// problem twice, and callers compare lists between revisions.
func (t *translator) diagnostics() []Diagnostic {
	return sortDiagnostics(t.diags)
}

func sortDiagnostics(ds []Diagnostic) []Diagnostic {
	if len(ds) == 0 {
		return nil
	}
	out := append([]Diagnostic(nil), ds...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Resource != out[j].Resource {
			return out[i].Resource < out[j].Resource
		}
		return out[i].Message < out[j].Message
	})
	uniq := out[:1]
	for _, d := range out[1:] {
		if d != uniq[len(uniq)-1] {
			uniq = append(uniq, d)
		}
	}
	return uniq
}

// isHTTPFamily reports whether a port protocol is routed by HTTP rules.
func isHTTPFamily(protocol string) bool {
	switch protocol {
	case resource.ProtocolHTTP, resource.ProtocolHTTP2, resource.ProtocolGRPC:
		return true
	}
	return false
}

// usesHTTP2 reports whether a port's upstreams must be spoken to in HTTP/2.
func usesHTTP2(protocol string) bool {
	return protocol == resource.ProtocolHTTP2 || protocol == resource.ProtocolGRPC
}

// httpPorts returns the service's HTTP-family ports in declaration order.
func httpPorts(svc *mesh.Service) []resource.ServicePort {
	var out []resource.ServicePort
	for _, p := range svc.Spec.Ports {
		if isHTTPFamily(p.Protocol) {
			out = append(out, p)
		}
	}
	return out
}

// backendPort picks the port of a backend service that a rule on port
// number want sends to: the same port number when the backend has it as an
// HTTP-family port, else its first HTTP-family port.
func backendPort(svc *mesh.Service, want uint32) (resource.ServicePort, bool) {
	ports := httpPorts(svc)
	for _, p := range ports {
		if p.Port == want {
			return p, true
		}
	}
	if len(ports) > 0 {
		return ports[0], true
	}
	return resource.ServicePort{}, false
}

// endpointsMatching counts the endpoints of a cluster: those with the port
// and every subset label.
func endpointsMatching(c clusterRef) []mesh.Endpoint {
	var out []mesh.Endpoint
	for _, ep := range c.svc.Endpoints {
		if ep.Ports[c.port.Name] != 0 && resource.LabelsMatch(ep.Labels, c.subset) {
			out = append(out, ep)
		}
	}
	return out
}
