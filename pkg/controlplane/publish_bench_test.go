package controlplane

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
	xdsserver "embassy.dev/embassy/xds/server"
)

// newPublisher is a control plane with only what publish uses: st, an
// authorization compiler without a Rego sandbox (for meshes without
// AuthorizationPolicies) and an xDS server whose pushes wait an hour, so
// that a benchmark measures publish alone.
func newPublisher(tb testing.TB, st store.Store) *ControlPlane {
	tb.Helper()
	x := xdsserver.New(xdsserver.Config{Debounce: time.Hour, MaxDelay: time.Hour})
	tb.Cleanup(x.Close)
	return &ControlPlane{store: st, log: hclog.NewNullLogger(), authz: newAuthzCache(nil), xds: x}
}

// BenchmarkPublishOneChange is the publish of one endpoint change (a
// Workload's address) in a mesh of 1,000 services × 5 workloads: what
// every store change costs the control plane before the push.
func BenchmarkPublishOneChange(b *testing.B) {
	ctx := context.Background()
	st := store.NewMemory()
	rs := meshtest.LargeResources(1000, 5)
	ops := make([]store.Op, len(rs))
	for i, r := range rs {
		ops[i] = store.Op{Key: r.Key(), Resource: r}
	}
	if _, err := st.Commit(ctx, ops); err != nil {
		b.Fatal(err)
	}
	c := newPublisher(b, st)
	if err := c.publish(ctx); err != nil {
		b.Fatal(err)
	}
	w := *rs[0]
	spec := *w.Spec.(*resource.WorkloadSpec)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		spec.Address = fmt.Sprintf("10.255.%d.%d", i/250%250, i%250)
		w.Spec = &spec
		if _, err := st.Commit(ctx, []store.Op{{Key: w.Key(), Resource: &w}}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := c.publish(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
