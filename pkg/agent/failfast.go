package agent

import (
	"fmt"

	"embassy.dev/embassy/pkg/dataplane"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// An agent whose token or flags cannot work stops at once with one error
// that says what to fix, instead of warning about the same refusal every
// few seconds for as long as it runs. Refusals that a retry cannot change
// are permanent: an identity of another namespace than --workload names
// (every xDS, policy and registration call would be refused), and the
// control plane refusing the first registration of a run as not allowed
// or not valid. Unavailability and later refusals (the operator may be
// changing the mesh) are retried.

// checkNamespace refuses an SVID whose namespace is not the one workload
// (NAME.NAMESPACE) names.
func checkNamespace(workload string, id spiffeid.ID) error {
	name, want, err := dataplane.ParseNodeID(workload)
	if err != nil {
		return fmt.Errorf("workload: %w", err)
	}
	got, sa, err := dataplane.ParseWorkloadID(id)
	if err != nil {
		return fmt.Errorf("the agent's identity %s: %w", id, err)
	}
	if got == want {
		return nil
	}
	return fmt.Errorf("the agent's identity is %s, in namespace %s, but --workload %s names namespace %s, "+
		"so the control plane would refuse every call: run the agent with --workload %s.%s, or give it a join token "+
		"for namespace %s (embassyctl token create --namespace %s --service-account %s --workload %s)",
		id, got, workload, want, name, got, want, want, sa, name)
}

// permanentRegisterRefusal reports whether the control plane refused a
// registration because of what the agent asked, which asking again
// cannot change.
func permanentRegisterRefusal(err error) bool {
	switch status.Code(err) {
	case codes.PermissionDenied, codes.InvalidArgument:
		return true
	}
	return false
}
