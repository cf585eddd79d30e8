package posture

import (
	"fmt"
	"strings"

	"embassy.dev/embassy/pkg/resource"
)

// excludedWorkloads: a Workload naming a Service whose spec.serviceAccounts
// does not allow it gets none of that service's traffic. Usually a Service
// change left it behind, or someone tried to serve what was not theirs;
// either way the operator should see it.
func excludedWorkloads(in Inputs) []Finding {
	var out []Finding
	for _, s := range in.Mesh.Services {
		for _, w := range s.Excluded {
			key := resource.Key{Kind: resource.KindWorkload, Namespace: w.Namespace, Name: w.Name}.String()
			out = append(out, Finding{ID: "workload-not-allowed", Severity: Medium, Resources: []string{key, serviceKey(s)},
				Title: fmt.Sprintf("workload %s (service account %s) names service %s, whose spec.serviceAccounts allows only [%s]: it gets no traffic from it",
					key, w.ServiceAccount, s.Ref, strings.Join(s.ServiceAccounts, ", ")),
				Fix: fmt.Sprintf("add %q to spec.serviceAccounts of Service %s/%s if it may serve it; otherwise remove the service from the Workload, or delete the Workload",
					w.ServiceAccount, s.Ref.Namespace, s.Ref.Name)})
		}
	}
	return out
}
