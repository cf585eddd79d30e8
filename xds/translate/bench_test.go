package translate_test

import (
	"fmt"
	"testing"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/xds/translate"
)

// largeMesh builds services with endpoints each, every fourth service with
// a two-subset canary Route, as a stand-in for a big production mesh.
func largeMesh(services, endpoints int) *mesh.Snapshot {
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
	return mesh.New(1, rs)
}

func BenchmarkOutbound(b *testing.B) {
	s := largeMesh(1000, 5)
	b.ReportAllocs()
	for b.Loop() {
		r, _ := translate.Outbound(s)
		if len(r.Clusters) != 1500 {
			b.Fatalf("got %d clusters, want 1500", len(r.Clusters))
		}
	}
}

// TestLargeMeshValidates runs the benchmark's mesh once through validation,
// so the benchmark measures output known to be servable.
func TestLargeMeshValidates(t *testing.T) {
	r, diags := translate.Outbound(largeMesh(100, 5))
	if len(diags) != 0 {
		t.Errorf("diagnostics: %+v", diags)
	}
	if len(r.Clusters) != 150 || len(r.Endpoints) != 150 {
		t.Errorf("got %d clusters and %d assignments, want 150 each", len(r.Clusters), len(r.Endpoints))
	}
	if err := validateResources(r); err != nil {
		t.Error(err)
	}
}
