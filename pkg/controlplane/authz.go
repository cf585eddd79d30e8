package controlplane

import (
	"context"
	"errors"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/identity/service"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
)

// authorizeStream lets an xDS stream through only for a node of the
// identity its client certificate proves: the node id's namespace must be
// the certificate's, and when the Workload exists its service account
// (default "default") must be the certificate's. The Workload is read from
// the store, not the last snapshot, so one registered a moment ago counts.
func (c *ControlPlane) authorizeStream(ctx context.Context, node *core.Node) error {
	id, _, err := service.PeerSVID(ctx, c.trust)
	if err != nil {
		return err
	}
	ns, sa, err := dataplane.ParseWorkloadID(id)
	if err != nil {
		return status.Errorf(codes.PermissionDenied, "node %q: the certificate's %v", node.GetId(), err)
	}
	name, nodeNS, err := dataplane.ParseNodeID(node.GetId())
	if err != nil {
		return status.Errorf(codes.PermissionDenied, "%v: the certificate is %s, so the node id must be <workload>.%s", err, id, ns)
	}
	if nodeNS != ns {
		return status.Errorf(codes.PermissionDenied, "node %q is in namespace %q but the certificate is %s (namespace %q): a proxy may only ask for its own identity's configuration",
			node.GetId(), nodeNS, id, ns)
	}
	key := resource.Key{Kind: resource.KindWorkload, Namespace: ns, Name: name}
	r, err := c.store.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return status.Errorf(codes.Unavailable, "node %q: reading its Workload: %v", node.GetId(), err)
	}
	want := r.Spec.(*resource.WorkloadSpec).Identity()
	if want != sa {
		wantID, _ := dataplane.WorkloadID(c.ca.TrustDomain(), ns, want)
		return status.Errorf(codes.PermissionDenied, "node %q is workload %s/%s with identity %s, but the certificate is %s: a proxy may only ask for its own identity's configuration",
			node.GetId(), ns, name, wantID, id)
	}
	return nil
}
