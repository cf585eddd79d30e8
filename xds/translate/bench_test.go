package translate_test

import (
	"testing"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/translate"
)

// largeMesh is the benchmarks' stand-in for a big production mesh.
func largeMesh(services, endpoints int) *mesh.Snapshot { return meshtest.Large(services, endpoints) }

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
