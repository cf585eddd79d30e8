package meshtest

import (
	"fmt"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// CallGraph is Large's mesh in which service i calls the calls services
// after it (i+1 … i+calls, wrapping around), under config scoping mode.
// Explicit mode reads the calls from each Service's spec.egress; auto
// mode from an AuthorizationPolicy per service that allows exactly its
// callers' service accounts (compiled with compiler, which auto needs).
func CallGraph(services, endpoints, calls int, mode string, compiler mesh.AuthzCompiler) *mesh.Snapshot {
	large := Large(services, endpoints)
	var rs []*resource.Resource
	for _, w := range large.Workloads {
		rs = append(rs, &resource.Resource{Kind: resource.KindWorkload, Metadata: resource.Metadata{Name: w.Name, Namespace: w.Namespace}, Spec: w.Spec})
	}
	for _, r := range large.Routes {
		rs = append(rs, &resource.Resource{Kind: resource.KindRoute, Metadata: resource.Metadata{Name: r.Name, Namespace: r.Namespace}, Spec: r.Spec})
	}
	name := func(i int) string { return large.Services[(i+services)%services].Ref.Name }
	for i, svc := range large.Services {
		spec := *svc.Spec
		if mode == resource.ScopingExplicit {
			for c := 1; c <= calls; c++ {
				spec.Egress = append(spec.Egress, resource.Egress{Service: name(i + c)})
			}
		}
		rs = append(rs, &resource.Resource{Kind: resource.KindService, Metadata: resource.Metadata{Name: svc.Ref.Name, Namespace: svc.Ref.Namespace}, Spec: &spec})
		if mode == resource.ScopingAuto {
			rego := "package envoy.authz\ndefault allow := false\n"
			for c := 1; c <= calls; c++ {
				rego += fmt.Sprintf("allow if input.attributes.source.principal == %q\n", "spiffe://"+large.Mesh.TrustDomain+"/ns/default/sa/"+name(i-c))
			}
			rs = append(rs, &resource.Resource{Kind: resource.KindAuthorizationPolicy, Metadata: resource.Metadata{Name: svc.Ref.Name, Namespace: "default"}, Spec: &resource.AuthorizationPolicySpec{
				Targets: resource.Targets{Services: []string{svc.Ref.Name}},
				Modules: []resource.RegoModule{{Name: svc.Ref.Name + ".rego", Rego: rego}},
			}})
		}
	}
	rs = append(rs, &resource.Resource{Kind: resource.KindMesh, Metadata: resource.Metadata{Name: "mesh"}, Spec: &resource.MeshSpec{TrustDomain: large.Mesh.TrustDomain, ConfigScoping: mode}})
	return mesh.New(1, rs, mesh.WithAuthz(compiler))
}
