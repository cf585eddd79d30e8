package discovery

import (
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"embassy.dev/embassy/pkg/resource"
)

// Annotations a Kubernetes Service may carry for the mesh.
const (
	// ServiceAccountsAnnotation lists, comma-separated, the service
	// accounts whose Pods may serve the Service: the Service's
	// spec.serviceAccounts. Without it the mesh's default applies
	// (resource.AllowedServiceAccounts).
	ServiceAccountsAnnotation = "embassy.dev/service-accounts"
	// SourceAnnotation marks every resource discovery makes, so a conflict
	// or a dump says where it came from.
	SourceAnnotation = "embassy.dev/source"
	// SourceKubernetes is SourceAnnotation's value.
	SourceKubernetes = "kubernetes"
)

// unnamedPort is the name a Service's single unnamed port takes, since
// every mesh port is named; EndpointSlices name that port "" too, and
// portName maps both the same way.
const unnamedPort = "default"

// portName is the mesh name of a Kubernetes Service or EndpointSlice port.
func portName(name string) string {
	if name == "" {
		return unnamedPort
	}
	return name
}

// appProtocols maps a port's appProtocol to a mesh protocol. Kubernetes
// names h2c "kubernetes.io/h2c"; the plain names are the conventions
// Istio and Linkerd read too.
var appProtocols = map[string]string{
	"grpc":              resource.ProtocolGRPC,
	"http":              resource.ProtocolHTTP,
	"http2":             resource.ProtocolHTTP2,
	"kubernetes.io/h2c": resource.ProtocolHTTP2,
	"tcp":               resource.ProtocolTCP,
}

// portProtocol is the mesh protocol of a Service port: its appProtocol
// when it names one of appProtocols, else the port name's prefix
// ("grpc", "grpc-api", "http2-web"), else tcp, which is always safe.
func portProtocol(p corev1.ServicePort) string {
	if p.AppProtocol != nil {
		if proto, ok := appProtocols[strings.ToLower(*p.AppProtocol)]; ok {
			return proto
		}
	}
	name := strings.ToLower(p.Name)
	for _, proto := range []string{resource.ProtocolGRPC, resource.ProtocolHTTP2, resource.ProtocolHTTP} {
		if name == proto || strings.HasPrefix(name, proto+"-") {
			return proto
		}
	}
	return resource.ProtocolTCP
}

// serviceResource maps a Kubernetes Service to a mesh Service, or nil for
// one the mesh cannot route to: ExternalName Services and those without
// a TCP port. Endpoints come from EndpointSlices, as Workloads.
func serviceResource(s *corev1.Service) *resource.Resource {
	if s.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	spec := &resource.ServiceSpec{ServiceAccounts: splitList(s.Annotations[ServiceAccountsAnnotation])}
	for _, p := range s.Spec.Ports {
		if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
			continue
		}
		sp := resource.ServicePort{Name: portName(p.Name), Port: uint32(p.Port), Protocol: portProtocol(p)}
		if p.TargetPort.IntValue() > 0 {
			sp.TargetPort = uint32(p.TargetPort.IntValue())
		}
		spec.Ports = append(spec.Ports, sp)
	}
	if len(spec.Ports) == 0 {
		return nil
	}
	return newResource(resource.KindService, s.Namespace, s.Name, spec)
}

// newResource makes a discovered resource, marked with SourceAnnotation.
func newResource(kind resource.Kind, ns, name string, spec any) *resource.Resource {
	return &resource.Resource{
		APIVersion: resource.APIVersion,
		Kind:       kind,
		Metadata: resource.Metadata{Name: name, Namespace: ns,
			Annotations: map[string]string{SourceAnnotation: SourceKubernetes}},
		Spec: spec,
	}
}

// splitList splits a comma-separated annotation, dropping blanks, sorted
// so that the order in the annotation does not matter.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}
