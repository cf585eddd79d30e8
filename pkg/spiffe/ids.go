package spiffe

import (
	"fmt"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// DefaultTrustDomain is the trust domain of a mesh that names none.
const DefaultTrustDomain = "embassy.local"

// The control plane's own namespace and service account.
const (
	ControlPlaneNamespace      = "embassy-system"
	ControlPlaneServiceAccount = "embassy-cp"
)

// IDFor returns spiffe://<td>/ns/<ns>/sa/<sa>. The namespace and the service
// account must be non-empty valid SPIFFE path segments.
func IDFor(td spiffeid.TrustDomain, ns, sa string) (spiffeid.ID, error) {
	if td.IsZero() {
		return spiffeid.ID{}, fmt.Errorf("trust domain is empty: set the mesh's trust domain")
	}
	if ns == "" || sa == "" {
		return spiffeid.ID{}, fmt.Errorf("namespace %q and service account %q must both be set", ns, sa)
	}
	id, err := spiffeid.FromSegments(td, "ns", ns, "sa", sa)
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("namespace %q / service account %q do not make a SPIFFE ID: %w (use letters, digits, '.', '-', '_')", ns, sa, err)
	}
	return id, nil
}

// ParseWorkloadID returns the namespace and service account of a workload
// ID, which must have exactly the path /ns/<ns>/sa/<sa> and must not be
// the control plane's own ID: no workload may use that.
func ParseWorkloadID(id spiffeid.ID) (ns, sa string, err error) {
	if id.IsZero() {
		return "", "", fmt.Errorf("SPIFFE ID is empty")
	}
	segs, ok := splitPath(id.Path())
	if !ok || len(segs) != 4 || segs[0] != "ns" || segs[2] != "sa" || segs[1] == "" || segs[3] == "" {
		return "", "", fmt.Errorf("SPIFFE ID %q is not a workload ID: want spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>", id)
	}
	if segs[1] == ControlPlaneNamespace && segs[3] == ControlPlaneServiceAccount {
		return "", "", fmt.Errorf("SPIFFE ID %q is the control plane's own identity, which no workload may use", id)
	}
	return segs[1], segs[3], nil
}

// ControlPlaneID returns spiffe://<td>/ns/embassy-system/sa/embassy-cp, or
// the zero ID for the zero trust domain.
func ControlPlaneID(td spiffeid.TrustDomain) spiffeid.ID {
	id, err := IDFor(td, ControlPlaneNamespace, ControlPlaneServiceAccount)
	if err != nil {
		return spiffeid.ID{}
	}
	return id
}

// splitPath splits "/a/b" into ["a", "b"]; ok is false for a path that does
// not start with a slash.
func splitPath(p string) ([]string, bool) {
	rest, ok := strings.CutPrefix(p, "/")
	if !ok {
		return nil, false
	}
	return strings.Split(rest, "/"), true
}
