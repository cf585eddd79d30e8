package translate_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/xds/translate"
)

// configBytes is the encoded size of every resource of a set.
func configBytes(r *translate.Resources) int {
	n := 0
	for _, m := range append(append(append(append([]proto.Message{}, asMessages(r.Listeners)...), asMessages(r.Routes)...), asMessages(r.Clusters)...), asMessages(r.Endpoints)...) {
		n += proto.Size(m)
	}
	return n
}

func asMessages[M proto.Message](ms []M) []proto.Message {
	out := make([]proto.Message, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

// TestScopedConfigBytes measures what one sidecar and one proxyless
// server of a 1,000-service mesh are sent when each service calls 5
// others, scoped and not, and holds scoping to its target: at most 1/50
// of the unscoped bytes. Sizes are deterministic, not timings.
func TestScopedConfigBytes(t *testing.T) {
	const services, endpoints, calls = 1000, 5, 5
	modes := []string{resource.ScopingNone, resource.ScopingExplicit, resource.ScopingAuto}
	if testing.Short() {
		modes = modes[:2] // auto compiles a policy per service
	}
	sizes := map[string]map[translate.Flavour]int{}
	for _, mode := range modes {
		s := meshtest.CallGraph(services, endpoints, calls, mode, meshtest.CompileAuthz)
		w := s.Workload("default", "svc-0500-0")
		sizes[mode] = map[translate.Flavour]int{}
		for _, f := range []translate.Flavour{translate.Envoy, translate.Proxyless} {
			r, _ := translate.ForProxy(s, translate.Proxy{ID: w.Name + "." + w.Namespace, Flavour: f, Workload: w.Name, Namespace: w.Namespace})
			sizes[mode][f] = configBytes(r)
		}
		if v := s.Visible(w); mode != resource.ScopingNone && countVisible(v) != calls {
			t.Errorf("%s: %d services visible, want %d", mode, countVisible(v), calls)
		}
	}
	for _, mode := range modes[1:] {
		for f, scoped := range sizes[mode] {
			full := sizes[resource.ScopingNone][f]
			t.Logf("%s %s: %d bytes scoped, %d unscoped: 1/%.0f", f, mode, scoped, full, float64(full)/float64(scoped))
			if scoped*50 > full {
				t.Errorf("%s %s: %d bytes is more than 1/50 of %d", f, mode, scoped, full)
			}
		}
	}
}

func countVisible(v *mesh.Visibility) int {
	n := 0
	for _, d := range v.Decisions() {
		if d.Visible {
			n++
		}
	}
	return n
}
