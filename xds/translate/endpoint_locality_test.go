package translate

import (
	"testing"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// gRPC's xDS client NACKs an assignment whose locality is missing, which is
// what an endpoint without region or zone would give if left out.
func TestEveryLocalityIsSetForGRPC(t *testing.T) {
	snap := mesh.New(1, []*resource.Resource{
		{APIVersion: resource.APIVersion, Kind: resource.KindService, Metadata: resource.Metadata{Name: "echo", Namespace: "default"},
			Spec: &resource.ServiceSpec{Ports: []resource.ServicePort{{Name: "grpc", Port: 50051, Protocol: resource.ProtocolGRPC}}}},
		{APIVersion: resource.APIVersion, Kind: resource.KindWorkload, Metadata: resource.Metadata{Name: "echo-1", Namespace: "default"},
			Spec: &resource.WorkloadSpec{Address: "127.0.0.1", Services: []string{"echo"}}},
	})
	res, _ := ProxylessClient(snap)
	if len(res.Endpoints) == 0 {
		t.Fatal("no assignments")
	}
	for _, cla := range res.Endpoints {
		for _, lep := range cla.GetEndpoints() {
			if lep.GetLocality() == nil {
				t.Fatalf("%s: a LocalityLbEndpoints has no locality", cla.GetClusterName())
			}
			if lep.GetLoadBalancingWeight().GetValue() < 1 {
				t.Fatalf("%s: locality weight %d, gRPC drops localities below 1", cla.GetClusterName(), lep.GetLoadBalancingWeight().GetValue())
			}
		}
	}
}
