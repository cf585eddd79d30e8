package cache

import (
	"fmt"
	"testing"
	"time"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/xds/cache/cachetest"
	"embassy.dev/embassy/xds/translate"
)

// BenchmarkChecks measures the gate on a 1,000-service mesh: the outbound
// set checked cold (nothing kept, as on the first push) and warm (every
// resource already checked, as on a push that changed little), and one
// sidecar shape on top of a warm outbound set.
func BenchmarkChecks(b *testing.B) {
	m := meshtest.Large(1000, 5)
	tr := DefaultTranslator()
	out, err := newResourceSet(tr.Outbound(m), newEncodings())
	if err != nil {
		b.Fatal(err)
	}
	w := m.Workloads[0]
	own, err := newResourceSet(tr.Inbound(m, translate.Proxy{ID: w.Name + "." + w.Namespace, Flavour: translate.Envoy, Workload: w.Name, Namespace: w.Namespace}), newEncodings())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("outbound cold", func(b *testing.B) {
		for b.Loop() {
			if err := newChecks().servable(out); err != nil {
				b.Fatal(err)
			}
		}
	})
	warm := newChecks()
	if err := warm.servable(out); err != nil {
		b.Fatal(err)
	}
	b.Run("outbound warm", func(b *testing.B) {
		for b.Loop() {
			if err := warm.servable(out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sidecar shape on warm outbound", func(b *testing.B) {
		for b.Loop() {
			if err := warm.over(overlay(out, own), nil, own); err != nil {
				b.Fatal(err)
			}
		}
	})
	// A shape's checks across its set run whenever what they read
	// changed (setKey), and for every shape new to the mesh.
	b.Run("sidecar shape across its set", func(b *testing.B) {
		set := overlay(out, own)
		for b.Loop() {
			if err := warm.across(set, own); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPush measures whole pushes of a 1,000-service mesh to sidecars
// of distinct shapes, checks included: each iteration is a new revision of
// the same content, as when an unrelated resource changes.
func BenchmarkPush(b *testing.B) {
	for _, shapes := range []int{1, 20} {
		b.Run(fmt.Sprintf("shapes=%d", shapes), func(b *testing.B) {
			m := meshtest.Large(1000, 5)
			p := NewPublisher(Options{Debounce: time.Hour, MaxDelay: time.Hour})
			b.Cleanup(p.Close)
			for i := range shapes {
				w := m.Workloads[i*5]
				p.Connect(cachetest.EnvoyNode(w.Name + "." + w.Namespace))
			}
			p.push(m)
			b.ResetTimer()
			for b.Loop() {
				p.push(m)
			}
		})
	}
}
