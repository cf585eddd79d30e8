package discovery

import (
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"embassy.dev/embassy/pkg/resource"
)

// Topology labels Kubernetes puts on Nodes, and operators on Pods, that
// give a Workload its locality when its endpoint names no zone.
const (
	zoneLabel   = "topology.kubernetes.io/zone"
	regionLabel = "topology.kubernetes.io/region"
)

// podLookup finds a Pod by namespace and name; nil when it is not known.
type podLookup func(namespace, name string) *corev1.Pod

// workloads maps EndpointSlices to one Workload per ready Pod: the Pod
// backs every Service whose slices list it ready, on the slices' ports,
// with its labels, service account and locality. An endpoint counts only
// while both its slice condition and its Pod say ready, so a Pod turned
// unready leaves with the first of the two updates to arrive.
func workloads(eps []*discoveryv1.EndpointSlice, pod podLookup) []*resource.Resource {
	byPod := map[string]*resource.WorkloadSpec{}
	var order []string
	for _, sl := range eps {
		svc := sl.Labels[discoveryv1.LabelServiceName]
		if svc == "" || (sl.AddressType != discoveryv1.AddressTypeIPv4 && sl.AddressType != discoveryv1.AddressTypeIPv6) {
			continue
		}
		for _, ep := range sl.Endpoints {
			p := endpointPod(sl.Namespace, ep, pod)
			if p == nil {
				continue
			}
			key := p.Namespace + "/" + p.Name
			w, ok := byPod[key]
			if !ok {
				w = podWorkload(p, ep)
				byPod[key] = w
				order = append(order, key)
			}
			addService(w, svc, sl.Ports)
		}
	}
	slices.Sort(order)
	out := make([]*resource.Resource, 0, len(order))
	for _, key := range order {
		ns, name, _ := strings.Cut(key, "/")
		out = append(out, newResource(resource.KindWorkload, ns, name, byPod[key]))
	}
	return out
}

// endpointPod is the ready Pod behind an endpoint, or nil.
func endpointPod(ns string, ep discoveryv1.Endpoint, pod podLookup) *corev1.Pod {
	if len(ep.Addresses) == 0 || ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" {
		return nil
	}
	// Kubernetes reads a missing ready condition as ready.
	if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
		return nil
	}
	if ep.TargetRef.Namespace != "" {
		ns = ep.TargetRef.Namespace
	}
	p := pod(ns, ep.TargetRef.Name)
	if p == nil || p.DeletionTimestamp != nil || !podReady(p) {
		return nil
	}
	if ep.TargetRef.UID != "" && ep.TargetRef.UID != p.UID {
		return nil // a Pod of the same name replaced the one listed
	}
	return p
}

// podReady says whether the kubelet reports the Pod Ready.
func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podWorkload starts a Pod's Workload: address, labels, identity and
// locality, without services yet.
func podWorkload(p *corev1.Pod, ep discoveryv1.Endpoint) *resource.WorkloadSpec {
	sa := p.Spec.ServiceAccountName
	if sa == "" {
		sa = resource.DefaultServiceAccount
	}
	w := &resource.WorkloadSpec{Address: podAddress(p, ep), ServiceAccount: sa, Labels: maps.Clone(p.Labels)}
	loc := resource.Locality{Zone: p.Labels[zoneLabel], Region: p.Labels[regionLabel]}
	if ep.Zone != nil && *ep.Zone != "" {
		loc.Zone = *ep.Zone
	}
	if loc != (resource.Locality{}) {
		w.Locality = &loc
	}
	return w
}

// podAddress is the Pod's IP of the endpoint's address family, as the
// kubelet reports it in the Pod's status and the EndpointSlice controller
// copies it into the slice; the slice's address only when the Pod reports
// none of that family. In a cluster the two agree. The API server refuses
// loopback addresses in an EndpointSlice but not in a Pod's status, which
// is how the end-to-end tests run their Pods on 127.0.0.1.
func podAddress(p *corev1.Pod, ep discoveryv1.Endpoint) string {
	v4 := !strings.Contains(ep.Addresses[0], ":")
	for _, ip := range p.Status.PodIPs {
		if ip.IP != "" && !strings.Contains(ip.IP, ":") == v4 {
			return ip.IP
		}
	}
	return ep.Addresses[0]
}

// addService adds a Service and its slice's ports to a Workload; a port
// name the Workload already maps keeps its first port.
func addService(w *resource.WorkloadSpec, svc string, ports []discoveryv1.EndpointPort) {
	if !slices.Contains(w.Services, svc) {
		w.Services = append(w.Services, svc)
		slices.Sort(w.Services)
	}
	for _, p := range ports {
		if p.Port == nil || (p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP) {
			continue
		}
		name := portName(deref(p.Name))
		if slices.ContainsFunc(w.Ports, func(wp resource.WorkloadPort) bool { return wp.Name == name }) {
			continue
		}
		w.Ports = append(w.Ports, resource.WorkloadPort{Name: name, Port: uint32(*p.Port)})
		slices.SortFunc(w.Ports, func(a, b resource.WorkloadPort) int { return strings.Compare(a.Name, b.Name) })
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
