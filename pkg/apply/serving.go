package apply

import "embassy.dev/embassy/pkg/resource"

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
