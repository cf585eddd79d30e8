package apply

import (
	"fmt"

	"embassy.dev/embassy/pkg/resource"
)

// Exclusion is a stored Workload that an apply left out of a Service it
// names: the Service no longer allows its service account.
type Exclusion struct {
	Workload resource.Key `json:"workload"`
	Service  resource.Key `json:"service"`
	// Reason says why, naming the field and the allowed list.
	Reason string `json:"reason"`
}

// newExclusions lists the exclusions of after that before did not have.
func newExclusions(before, after []*resource.Resource) []Exclusion {
	type pair struct{ w, s resource.Key }
	old := map[pair]bool{}
	for _, e := range resource.Exclusions(before) {
		old[pair{e.Workload.Key(), excludedFrom(e)}] = true
	}
	var out []Exclusion
	for _, e := range resource.Exclusions(after) {
		p := pair{e.Workload.Key(), excludedFrom(e)}
		if !old[p] {
			out = append(out, Exclusion{Workload: p.w, Service: p.s, Reason: fmt.Sprintf("%s: %s", e.Path(), e.Reason())})
		}
	}
	return out
}

func excludedFrom(e resource.Exclusion) resource.Key {
	return resource.Key{Kind: resource.KindService, Namespace: e.Workload.Metadata.Namespace, Name: e.Service}
}

// excludedWorkloads refuses every Workload of this apply that names a
// Service its service account may not serve. A Workload already stored
// that a Service change excludes is not refused here: the Service change
// is the operator's decision, and the exclusion is reported as a warning
// (and by the audit) while the mesh gives that Workload no traffic.
func excludedWorkloads(merged []*resource.Resource, applied map[resource.Key]bool) resource.Errors {
	var errs resource.Errors
	for _, e := range resource.Exclusions(merged) {
		if applied[e.Workload.Key()] {
			errs = append(errs, fieldError(e.Workload, e.Path(), e.Reason()))
		}
	}
	return errs
}
