package whatif

import (
	"sort"

	"embassy.dev/embassy/pkg/mesh"
)

// Scope says whether the caller's proxy is sent the destination's
// configuration under the mesh's config scoping (Mesh spec.configScoping):
// a proxy never sent a service has no route or cluster for it, so its
// calls fail in the caller before any policy is asked.
type Scope struct {
	// Sent is whether the caller's proxy is sent the destination.
	Sent bool `json:"sent"`
	// Workload is the caller's Workload, namespace/name, whose view was
	// judged; empty when no Workload holds the caller's identity (such a
	// proxy is sent every service).
	Workload string `json:"workload,omitempty"`
	// Reason is the scoping's own reason, as describe proxy prints it.
	Reason string `json:"reason"`
}

// scopeOf judges whether a proxy of the caller is sent ref. Workloads of
// one identity may list different egress, so the caller counts as sent
// the service when any of its Workloads is; otherwise the first, by
// namespace and name, gives the reason.
func scopeOf(snap *mesh.Snapshot, from string, ref mesh.ServiceRef) Scope {
	callers := callerWorkloads(snap, from)
	if len(callers) == 0 {
		return judge(snap.Visible(nil), "", ref)
	}
	var first Scope
	for i, w := range callers {
		sc := judge(snap.Visible(w), w.Namespace+"/"+w.Name, ref)
		if sc.Sent {
			return sc
		}
		if i == 0 {
			first = sc
		}
	}
	return first
}

// callerWorkloads are the Workloads holding SPIFFE ID from, sorted.
func callerWorkloads(snap *mesh.Snapshot, from string) []*mesh.Workload {
	var out []*mesh.Workload
	for _, w := range snap.Workloads {
		if from != "" && w.SPIFFEID == from {
			out = append(out, w)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name
	})
	return out
}

func judge(v *mesh.Visibility, workload string, ref mesh.ServiceRef) Scope {
	sc := Scope{Sent: v.Sees(ref), Workload: workload}
	for _, d := range v.Decisions() {
		if d.Service == ref {
			sc.Reason = d.Reason
			break
		}
	}
	return sc
}
