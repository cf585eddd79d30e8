package dataplane

import (
	"fmt"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// DefaultTrustDomain is the trust domain of a mesh that names none.
const DefaultTrustDomain = "embassy.local"

// The control plane's own namespace and service account, which make up
// the SPIFFE ID embassy-cp serves xDS and the identity API with. No
// workload may hold it.
const (
	ControlPlaneNamespace      = "embassy-system"
	ControlPlaneServiceAccount = "embassy-cp"
)

// The path segments before the namespace and the service account of a
// workload ID.
const (
	nsSegment = "ns"
	saSegment = "sa"
)

// WorkloadID returns spiffe://<td>/ns/<ns>/sa/<sa>. The namespace and the
// service account must be non-empty valid SPIFFE path segments.
func WorkloadID(td spiffeid.TrustDomain, ns, sa string) (spiffeid.ID, error) {
	if td.IsZero() {
		return spiffeid.ID{}, fmt.Errorf("trust domain is empty: set the mesh's trust domain")
	}
	if ns == "" || sa == "" {
		return spiffeid.ID{}, fmt.Errorf("namespace %q and service account %q must both be set", ns, sa)
	}
	id, err := spiffeid.FromSegments(td, nsSegment, ns, saSegment, sa)
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("namespace %q / service account %q do not make a SPIFFE ID: %w (use letters, digits, '.', '-', '_')", ns, sa, err)
	}
	return id, nil
}

// WorkloadIDString is WorkloadID's text for names the model has already
// validated, such as the translator's: it never fails, so a caller that
// renders configuration needs no error path that cannot be taken.
func WorkloadIDString(trustDomain, ns, sa string) string {
	return TrustDomainPrefix(trustDomain) + nsSegment + "/" + ns + "/" + saSegment + "/" + sa
}

// TrustDomainPrefix is the prefix every SPIFFE ID of the trust domain
// starts with: spiffe://<td>/.
func TrustDomainPrefix(trustDomain string) string { return "spiffe://" + trustDomain + "/" }

// ParseWorkloadID returns the namespace and service account of a workload
// ID, which must have exactly the path /ns/<ns>/sa/<sa> and must not be
// the control plane's own ID: no workload may use that.
func ParseWorkloadID(id spiffeid.ID) (ns, sa string, err error) {
	if id.IsZero() {
		return "", "", fmt.Errorf("SPIFFE ID is empty")
	}
	segs, ok := splitPath(id.Path())
	if !ok || len(segs) != 4 || segs[0] != nsSegment || segs[2] != saSegment || segs[1] == "" || segs[3] == "" {
		return "", "", fmt.Errorf("SPIFFE ID %q is not a workload ID: want spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>", id)
	}
	if segs[1] == ControlPlaneNamespace && segs[3] == ControlPlaneServiceAccount {
		return "", "", fmt.Errorf("SPIFFE ID %q is the control plane's own identity, which no workload may use", id)
	}
	return segs[1], segs[3], nil
}

// IDNamespace reads the namespace of a workload SPIFFE ID given as text,
// leniently: whatever follows the first "/ns/" up to the next slash, for
// callers that describe an ID they were handed rather than authorize it.
// ok is false when the text holds no namespace.
func IDNamespace(id string) (ns string, ok bool) {
	_, rest, found := strings.Cut(id, "/"+nsSegment+"/")
	if !found {
		return "", false
	}
	ns, _, _ = strings.Cut(rest, "/")
	return ns, ns != ""
}

// ControlPlaneID returns spiffe://<td>/ns/embassy-system/sa/embassy-cp, or
// the zero ID for the zero trust domain.
func ControlPlaneID(td spiffeid.TrustDomain) spiffeid.ID {
	id, err := WorkloadID(td, ControlPlaneNamespace, ControlPlaneServiceAccount)
	if err != nil {
		return spiffeid.ID{}
	}
	return id
}

// ControlPlaneIDString is ControlPlaneID's text for a trust domain given
// as a string, as bootstraps and translated configuration carry it.
func ControlPlaneIDString(trustDomain string) string {
	return WorkloadIDString(trustDomain, ControlPlaneNamespace, ControlPlaneServiceAccount)
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
