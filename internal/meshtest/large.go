package meshtest

import (
	"fmt"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// Large builds services with endpoints each, every fourth service with a
// two-subset canary Route, as a stand-in for a big production mesh in
// benchmarks of the translator and the publisher. Workload j of service i
// is "svc-<i>-<j>" in namespace default.
func Large(services, endpoints int) *mesh.Snapshot {
	return mesh.New(1, LargeResources(services, endpoints))
}

// LargeResources are the resources of Large, for benchmarks that store
// them.
func LargeResources(services, endpoints int) []*resource.Resource {
	var rs []*resource.Resource
	for i := range services {
		name := fmt.Sprintf("svc-%04d", i)
		spec := &resource.ServiceSpec{Ports: []resource.ServicePort{{Name: "http", Port: 8080, Protocol: resource.ProtocolHTTP}}}
		// Workloads rather than static endpoints: each has a service
		// account, so the (default STRICT) mTLS clusters check identities.
		for j := range endpoints {
			rs = append(rs, &resource.Resource{Kind: resource.KindWorkload, Metadata: resource.Metadata{Name: fmt.Sprintf("%s-%d", name, j), Namespace: "default"}, Spec: &resource.WorkloadSpec{
				Address:        fmt.Sprintf("10.%d.%d.%d", i/250, i%250, j+1),
				Services:       []string{name},
				ServiceAccount: name,
				Labels:         map[string]string{"version": fmt.Sprintf("v%d", j%2+1)},
				Locality:       &resource.Locality{Region: "r1", Zone: fmt.Sprintf("z%d", j%2)},
			}})
		}
		rs = append(rs, &resource.Resource{Kind: resource.KindService, Metadata: resource.Metadata{Name: name, Namespace: "default"}, Spec: spec})
		if i%4 == 0 {
			w80, w20 := int32(80), int32(20)
			rs = append(rs, &resource.Resource{Kind: resource.KindRoute, Metadata: resource.Metadata{Name: name, Namespace: "default"}, Spec: &resource.RouteSpec{
				Service: name,
				Rules: []resource.RouteRule{{Backends: []resource.Backend{
					{Subset: map[string]string{"version": "v1"}, Weight: &w80},
					{Subset: map[string]string{"version": "v2"}, Weight: &w20},
				}}},
			}})
		}
	}
	return rs
}
