package mesh_test

import (
	"runtime"
	"sync"
	"testing"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// BenchmarkVisibleAuto resolves, on a fresh snapshot per iteration, what
// one workload of each of 1,000 services (1,000 identities) sees under
// auto scoping when each service's policy allows its 5 callers: the cost
// of scoping one push of a 1,000-identity mesh.
func BenchmarkVisibleAuto(b *testing.B) {
	var mu sync.Mutex
	compiled := map[string]*mesh.AuthzCompiled{}
	memo := func(p *mesh.AuthorizationPolicy) *mesh.AuthzCompiled {
		mu.Lock()
		c, ok := compiled[p.Name]
		mu.Unlock()
		if !ok {
			c = meshtest.CompileAuthz(p)
			mu.Lock()
			compiled[p.Name] = c
			mu.Unlock()
		}
		return c
	}
	meshtest.CallGraph(1000, 5, 5, resource.ScopingAuto, memo)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		s := meshtest.CallGraph(1000, 5, 5, resource.ScopingAuto, memo)
		runtime.GC() // the snapshot's garbage is not scoping's
		b.StartTimer()
		for _, svc := range s.Services {
			if v := s.Visible(s.Workload("default", svc.Ref.Name+"-0")); v.All {
				b.Fatal("nothing hidden")
			}
		}
	}
}
