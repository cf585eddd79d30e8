package mesh

import (
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/resource"
)

// The modes an AuthorizationPolicy may run in, and what a request gets when
// its agent cannot decide. An empty spec field means the first of each.
const (
	ModeEnforce  = resource.PolicyEnforce
	ModeDryRun   = resource.PolicyDryRun
	FailureDeny  = resource.FailureDeny
	FailureAllow = resource.FailureAllow
)

// PolicyMode is the policy's mode with its default filled in: ModeEnforce
// or ModeDryRun. The CLI reads it for specs not (yet) in a snapshot.
func PolicyMode(s *resource.AuthorizationPolicySpec) string {
	if s.Mode == "" {
		return ModeEnforce
	}
	return s.Mode
}

// PolicyFailureMode is the policy's failure mode with its default filled
// in: FailureDeny or FailureAllow.
func PolicyFailureMode(s *resource.AuthorizationPolicySpec) string {
	if s.FailureMode == "" {
		return FailureDeny
	}
	return s.FailureMode
}

// resolveIdentity fills the workload's service account and SPIFFE ID once,
// so no reader derives the default service account or formats the ID
// again. It runs after every resource is read, since the Mesh (and so the
// trust domain) may sort after the workload.
func (w *Workload) resolveIdentity(trustDomain string) {
	w.ServiceAccount = w.Spec.Identity()
	w.SPIFFEID = dataplane.WorkloadIDString(trustDomain, w.Namespace, w.ServiceAccount)
}

// newAuthorizationPolicy resolves a policy's modes once.
func newAuthorizationPolicy(namespace, name string, spec *resource.AuthorizationPolicySpec) *AuthorizationPolicy {
	mode := PolicyMode(spec)
	return &AuthorizationPolicy{Namespace: namespace, Name: name, Spec: spec,
		Mode: mode, Enforce: mode == ModeEnforce, FailureMode: PolicyFailureMode(spec)}
}
