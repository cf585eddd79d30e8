package cachetest

import (
	"fmt"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// AgentMesh is an xDS-enabled gRPC Service echo (port 50051) in namespace
// demo with one AuthorizationPolicy, echo-methods, targeting it, and
// Workload echo-a (127.0.0.1) backing it if withWorkload. Every policy
// compiles to a bundle holding only its revision, "rev-" and its name,
// which is all the cache and the server read of one.
func AgentMesh(rev int64, withWorkload bool) *mesh.Snapshot {
	svc := &resource.Resource{Kind: resource.KindService, Metadata: resource.Metadata{Name: "echo", Namespace: "demo"},
		Spec: &resource.ServiceSpec{Ports: []resource.ServicePort{{Name: "grpc", Port: 50051, Protocol: resource.ProtocolGRPC}}}}
	wl := &resource.Resource{Kind: resource.KindWorkload, Metadata: resource.Metadata{Name: "echo-a", Namespace: "demo"},
		Spec: &resource.WorkloadSpec{Address: "127.0.0.1", Services: []string{"echo"}}}
	pol := &resource.Resource{Kind: resource.KindAuthorizationPolicy, Metadata: resource.Metadata{Name: "echo-methods", Namespace: "demo"},
		Spec: &resource.AuthorizationPolicySpec{Targets: resource.Targets{Services: []string{"echo"}}}}
	rs := []*resource.Resource{svc, pol}
	if withWorkload {
		rs = append(rs, wl)
	}
	return mesh.New(rev, rs, mesh.WithAuthz(revisionBundle))
}

// revisionBundle compiles p to a bundle holding only its revision.
func revisionBundle(p *mesh.AuthorizationPolicy) *mesh.AuthzCompiled {
	rev := "rev-" + p.Name
	return &mesh.AuthzCompiled{Revision: rev, Bundle: fmt.Appendf(nil, `{"revision":%q}`, rev)}
}
