package mesh

import (
	"testing"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/resource"
)

func res(kind resource.Kind, ns, name string, spec any) *resource.Resource {
	return &resource.Resource{APIVersion: resource.APIVersion, Kind: kind, Metadata: resource.Metadata{Name: name, Namespace: ns}, Spec: spec}
}

func TestEndpointsComeFromStaticEndpointsAndWorkloads(t *testing.T) {
	snap := New(7, []*resource.Resource{
		res(resource.KindWorkload, "shop", "cart-2", &resource.WorkloadSpec{Address: "10.0.0.2", Services: []string{"cart"},
			Ports: []resource.WorkloadPort{{Name: "http", Port: 9090}}, Labels: map[string]string{"version": "v2"}, Weight: 3}),
		res(resource.KindService, "shop", "cart", &resource.ServiceSpec{
			Ports:           []resource.ServicePort{{Name: "http", Port: 80, Protocol: "http", TargetPort: 8080}},
			Endpoints:       []resource.StaticEndpoint{{Address: "10.0.0.9"}},
			ServiceAccounts: []string{"cart", resource.DefaultServiceAccount}}),
		res(resource.KindWorkload, "shop", "cart-1", &resource.WorkloadSpec{Address: "10.0.0.1", Services: []string{"cart"}, ServiceAccount: "cart"}),
		// Same service name in another namespace: not an endpoint of shop/cart.
		res(resource.KindWorkload, "other", "cart-x", &resource.WorkloadSpec{Address: "10.9.9.9", Services: []string{"cart"}}),
	})
	if snap.Revision != 7 {
		t.Fatalf("revision %d", snap.Revision)
	}
	svc := snap.Service(ServiceRef{"shop", "cart"})
	if svc == nil {
		t.Fatal("service not indexed")
	}
	got := svc.Endpoints
	if len(got) != 3 {
		t.Fatalf("want 3 endpoints, got %+v", got)
	}
	want := []struct {
		addr   string
		port   uint32
		weight uint32
		sa     string
	}{{"10.0.0.1", 8080, 1, "cart"}, {"10.0.0.2", 9090, 3, "default"}, {"10.0.0.9", 8080, 1, ""}}
	for i, w := range want {
		e := got[i]
		if e.Address != w.addr || e.Ports["http"] != w.port || e.Weight != w.weight || e.ServiceAccount != w.sa {
			t.Errorf("endpoint %d = %+v, want %+v", i, e, w)
		}
	}
}

func TestMeshDefaults(t *testing.T) {
	snap := New(1, nil)
	if snap.Mesh.TrustDomain != dataplane.DefaultTrustDomain || snap.Mesh.MTLS.Mode != resource.MTLSStrict || snap.Mesh.SVIDTTL != "1h" {
		t.Fatalf("defaults: %+v", snap.Mesh)
	}
	snap = New(1, []*resource.Resource{res(resource.KindMesh, "", "m", &resource.MeshSpec{TrustDomain: "example.org", MTLS: &resource.MTLS{Mode: resource.MTLSPermissive}})})
	if snap.Mesh.TrustDomain != "example.org" || snap.Mesh.MTLS.Mode != resource.MTLSPermissive || snap.Mesh.CA.Type != "builtin" {
		t.Fatalf("applied mesh: %+v", snap.Mesh)
	}
}

func TestLookups(t *testing.T) {
	snap := New(1, []*resource.Resource{
		res(resource.KindRoute, "a", "r2", &resource.RouteSpec{Service: "s"}),
		res(resource.KindRoute, "a", "r1", &resource.RouteSpec{Service: "s"}),
		res(resource.KindRoute, "b", "r3", &resource.RouteSpec{Service: "s"}),
		res(resource.KindTrafficPolicy, "a", "tp", &resource.TrafficPolicySpec{Service: "s"}),
	})
	rs := snap.RoutesFor(ServiceRef{"a", "s"})
	if len(rs) != 2 || rs[0].Name != "r1" || rs[1].Name != "r2" {
		t.Fatalf("RoutesFor: %+v", rs)
	}
	if snap.TrafficPolicyFor(ServiceRef{"a", "s"}) == nil || snap.TrafficPolicyFor(ServiceRef{"b", "s"}) != nil {
		t.Fatal("TrafficPolicyFor matched the wrong namespace")
	}
	if !resource.LabelsMatch(map[string]string{"a": "1", "b": "2"}, map[string]string{"a": "1"}) || resource.LabelsMatch(map[string]string{"a": "1"}, map[string]string{"a": "2"}) {
		t.Fatal("LabelsMatch")
	}
}
