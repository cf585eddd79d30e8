package cache

import (
	"testing"
	"time"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/xds/cache/cachetest"
)

// The publisher falls back to the translate package, and reads node ids
// with its rule: the sidecar "web-1.shop" gets Workload web-1's inbound
// listener.
func TestDefaultTranslatorServesTheMesh(t *testing.T) {
	p := NewPublisher(Options{Debounce: time.Millisecond, MaxDelay: 10 * time.Millisecond})
	t.Cleanup(p.Close)
	if _, ok := p.tr.(translateAdapter); !ok {
		t.Fatalf("a publisher without a translator does not use the translate package's")
	}
	p.Connect(cachetest.EnvoyNode("web-1.shop"))
	p.Connect(cachetest.GRPCNode("client"))
	p.Connect(cachetest.EnvoyNode("web-2.shop"))

	m := mesh.New(7, []*resource.Resource{
		{Kind: resource.KindService, Metadata: resource.Metadata{Name: "web", Namespace: "shop"}, Spec: &resource.ServiceSpec{
			Ports: []resource.ServicePort{{Name: "http", Port: 80, Protocol: "http"}},
		}},
		{Kind: resource.KindWorkload, Metadata: resource.Metadata{Name: "web-1", Namespace: "shop"}, Spec: &resource.WorkloadSpec{
			Address: "10.0.0.1", Services: []string{"web"},
		}},
	})
	p.Update(m)
	poll.Until(t, "revision 7", func() bool { return p.Revision() == 7 })

	for _, id := range []string{"web-1.shop", "client"} {
		snap := snapshotOf(t, p, id)
		if len(snap.GetResources(resourcev3.ClusterType)) == 0 {
			t.Errorf("%s: no clusters for a mesh with a service", id)
		}
	}
	if len(snapshotOf(t, p, "web-1.shop").GetResources(resourcev3.ListenerType)) <= len(snapshotOf(t, p, "web-2.shop").GetResources(resourcev3.ListenerType)) {
		t.Error("the sidecar of Workload web-1 has no more listeners than one naming no workload: its node id was not read")
	}
}
