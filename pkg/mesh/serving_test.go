package mesh

import (
	"slices"
	"testing"

	"embassy.dev/embassy/pkg/resource"
)

// TestOnlyAllowedServiceAccountsServe checks that a workload whose
// service account the Service does not allow is no endpoint of it but is
// reported, with the operator's list or its default.
func TestOnlyAllowedServiceAccountsServe(t *testing.T) {
	port := []resource.ServicePort{{Name: "grpc", Port: 50051, Protocol: "grpc"}}
	snap := New(1, []*resource.Resource{
		res(resource.KindService, "default", "greet", &resource.ServiceSpec{Ports: port}),
		res(resource.KindService, "default", "echo", &resource.ServiceSpec{Ports: port, ServiceAccounts: []string{"echo-a", "echo-b"}}),
		res(resource.KindWorkload, "default", "greet-1", &resource.WorkloadSpec{Address: "10.0.0.1", Services: []string{"greet"}, ServiceAccount: "greet"}),
		res(resource.KindWorkload, "default", "intruder", &resource.WorkloadSpec{Address: "10.0.0.9", Services: []string{"greet", "echo"}, ServiceAccount: "echo-client"}),
		res(resource.KindWorkload, "default", "echo-a", &resource.WorkloadSpec{Address: "10.0.0.2", Services: []string{"echo"}, ServiceAccount: "echo-a"}),
		res(resource.KindWorkload, "default", "nameless", &resource.WorkloadSpec{Address: "10.0.0.3", Services: []string{"echo"}}),
	})
	for _, c := range []struct {
		svc       string
		allowed   []string
		endpoints []string
		excluded  []string
	}{
		{"greet", []string{"greet"}, []string{"greet-1"}, []string{"intruder"}},
		{"echo", []string{"echo-a", "echo-b"}, []string{"echo-a"}, []string{"intruder", "nameless"}},
	} {
		svc := snap.Service(ServiceRef{"default", c.svc})
		var eps, excl []string
		for _, e := range svc.Endpoints {
			eps = append(eps, e.Workload)
		}
		for _, w := range svc.Excluded {
			excl = append(excl, w.Name)
		}
		slices.Sort(excl)
		if !slices.Equal(svc.ServiceAccounts, c.allowed) || !slices.Equal(eps, c.endpoints) || !slices.Equal(excl, c.excluded) {
			t.Errorf("%s: allowed %v, endpoints %v, excluded %v; want %v, %v, %v", c.svc, svc.ServiceAccounts, eps, excl, c.allowed, c.endpoints, c.excluded)
		}
	}
}
