package cache

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/xds/cache/cachetest"
)

// scopedMesh is the translator's explicit-scoping case: a-front lists
// greet and namespace tools.
func scopedMesh(t *testing.T) *mesh.Snapshot {
	in := filepath.Join("..", "translate", "testdata", "in", "scoped-explicit.yaml")
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	return mesh.New(1, meshtest.Decode(t, in, data), mesh.WithAuthz(meshtest.CompileAuthz))
}

func clusterNames(t *testing.T, p *Publisher, id string) []string {
	t.Helper()
	return slices.Sorted(func(yield func(string) bool) {
		for name := range snapshotOf(t, p, id).GetResources(resourcev3.ClusterType) {
			if !yield(name) {
				return
			}
		}
	})
}

// TestScopedNodesShareTheirNarrowedSet: the real translator's Envoy and
// proxyless nodes of a workload that lists its egress are served only what
// it sees, nodes that see the same share one snapshot, and a node naming
// no workload still gets every service.
func TestScopedNodesShareTheirNarrowedSet(t *testing.T) {
	p := NewPublisher(Options{Debounce: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond})
	t.Cleanup(p.Close)
	p.Connect(cachetest.EnvoyNode("a-front.default"))
	p.Connect(cachetest.EnvoyNode("nobody.default"))
	p.Connect(metadataProxylessNode("a-front.default-client"))
	p.Connect(metadataProxylessNode("a-front.default"))
	p.Update(scopedMesh(t))
	poll.Until(t, "revision 1", func() bool { return p.Revision() == 1 })

	want := []string{"inbound|8080", "outbound|50051|version=v1|greet.default", "outbound|50051||greet.default", "outbound|50051||lb.default", "outbound|8080||hammer.tools"}
	if got := clusterNames(t, p, "a-front.default"); !slices.Equal(got, want) {
		t.Errorf("scoped sidecar's clusters = %q, want %q", got, want)
	}
	if got := clusterNames(t, p, "nobody.default"); !slices.Contains(got, "outbound|8080||other.default") {
		t.Errorf("a sidecar naming no workload was narrowed: %q", got)
	}
	if got := clusterNames(t, p, "a-front.default-client"); !slices.Contains(got, "outbound|8080||other.default") {
		t.Errorf("a proxyless client naming no workload was narrowed: %q", got)
	}
	if got := clusterNames(t, p, "a-front.default"); slices.Contains(got, "outbound|8080||other.default") {
		t.Errorf("scoped proxyless node got other: %q", got)
	}
	if info, _ := p.LastPush(); len(info.Refused) > 0 {
		t.Errorf("scoped sets were refused: %v", info.Refused)
	}
}

// TestProxiesThatSeeTheSameServicesShare: two sidecars whose workloads
// list the same egress share the narrowed set's maps, which were built
// once; a sidecar that sees everything keeps the shared outbound maps.
func TestProxiesThatSeeTheSameServicesShare(t *testing.T) {
	p := NewPublisher(Options{Debounce: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond})
	t.Cleanup(p.Close)
	for _, id := range []string{"svc-0000-0.default", "svc-0000-1.default", "svc-0001-0.default", "nobody.default"} {
		p.Connect(cachetest.EnvoyNode(id))
	}
	p.Update(meshtest.CallGraph(10, 2, 3, resource.ScopingExplicit, nil))
	poll.Until(t, "revision 1", func() bool { return p.Revision() == 1 })
	endpoints := func(id string) uintptr {
		return reflect.ValueOf(snapshotOf(t, p, id).types[resourcev3.EndpointType].set.items).Pointer()
	}
	if endpoints("svc-0000-0.default") != endpoints("svc-0000-1.default") {
		t.Error("two sidecars that see the same services hold separate copies of their endpoints")
	}
	if endpoints("svc-0000-0.default") == endpoints("svc-0001-0.default") {
		t.Error("sidecars that see different services share endpoints")
	}
	if n := len(snapshotOf(t, p, "svc-0000-0.default").GetResources(resourcev3.EndpointType)); n != 3 {
		t.Errorf("svc-0000's sidecar holds %d assignments, want its 3 callees'", n)
	}
}
