package cache

import (
	"testing"
	"time"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// The publisher falls back to the translate package, and reads node ids
// with its rule.
func TestDefaultTranslatorServesTheMesh(t *testing.T) {
	p := NewPublisher(Options{Debounce: time.Millisecond, MaxDelay: 10 * time.Millisecond})
	t.Cleanup(p.Close)
	if _, ok := p.tr.(NodeIDParser); !ok {
		t.Fatalf("default translator does not parse node ids")
	}
	p.Connect(envoyNode("web-1.shop"))
	p.Connect(grpcNode("client"))

	m := mesh.New(7, []*resource.Resource{
		{Kind: resource.KindService, Metadata: resource.Metadata{Name: "web", Namespace: "shop"}, Spec: &resource.ServiceSpec{
			Ports: []resource.ServicePort{{Name: "http", Port: 80, Protocol: "http"}},
		}},
		{Kind: resource.KindWorkload, Metadata: resource.Metadata{Name: "web-1", Namespace: "shop"}, Spec: &resource.WorkloadSpec{
			Address: "10.0.0.1", Services: []string{"web"},
		}},
	})
	p.Update(m)
	eventually(t, "revision 7", func() bool { return p.Revision() == 7 })

	for _, id := range []string{"web-1.shop", "client"} {
		snap := snapshotOf(t, p, id)
		if len(snap.GetResources(resourcev3.ClusterType)) == 0 {
			t.Errorf("%s: no clusters for a mesh with a service", id)
		}
	}
}
