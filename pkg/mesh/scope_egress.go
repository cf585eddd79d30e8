package mesh

import (
	"fmt"
	"slices"
	"strings"

	"embassy.dev/embassy/pkg/resource"
)

// egressEntry is one resolved egress entry: a namespace and a service in
// it ("" for all of them), with the resource that listed it.
type egressEntry struct {
	namespace, service string
	from               string
}

// egressOf is the workload's egress list: its own spec.egress, then that
// of each service it backs, in order.
func (s *Snapshot) egressOf(w *Workload) []egressEntry {
	var out []egressEntry
	add := func(from, ns string, list []resource.Egress) {
		for _, e := range list {
			tns, svc := e.Target(ns)
			out = append(out, egressEntry{namespace: tns, service: svc, from: from})
		}
	}
	add(fmt.Sprintf("Workload %s/%s", w.Namespace, w.Name), w.Namespace, w.Spec.Egress)
	for i, name := range w.Spec.Services {
		if slices.Contains(w.Spec.Services[:i], name) {
			continue
		}
		if svc := s.services[ServiceRef{w.Namespace, name}]; svc != nil {
			add(fmt.Sprintf("Service %s/%s", w.Namespace, name), w.Namespace, svc.Spec.Egress)
		}
	}
	return out
}

// egressKey renders what of an egress list decides visibility, sorted,
// so that workloads listing the same targets share a resolution.
func egressKey(es []egressEntry) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.namespace + "/" + e.service
	}
	slices.Sort(parts)
	return strings.Join(slices.Compact(parts), ",")
}

// explicitlyListed says whether an egress list lets a service through,
// and, when explain is set, why. An empty list narrows nothing: a
// workload that lists nothing is sent every service, as a mesh without
// scoping would send it.
func explicitlyListed(ref ServiceRef, egress []egressEntry, explain bool) (bool, string) {
	if len(egress) == 0 {
		return true, "no spec.egress lists what its workload calls, so every service is sent"
	}
	for _, e := range egress {
		if e.namespace != ref.Namespace || (e.service != ref.Name && e.service != "") {
			continue
		}
		switch {
		case !explain:
			return true, ""
		case e.service == "":
			return true, fmt.Sprintf("namespace %s listed in spec.egress of %s", e.namespace, e.from)
		}
		return true, fmt.Sprintf("listed in spec.egress of %s", e.from)
	}
	return false, "not listed in spec.egress of its Workload or the Services it backs"
}
