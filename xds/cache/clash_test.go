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

// TestClashingOutboundListenerLeftOut serves a sidecar whose workload runs
// on 127.0.0.1 and receives on port 15001: its inbound listener and the
// shared outbound HTTP listener bind the same address. The cache
// leaves the outbound one out, as translate.ForProxy does, rather than
// serving (or, with the gate, refusing) a set Envoy would not load.
func TestClashingOutboundListenerLeftOut(t *testing.T) {
	p := NewPublisher(Options{Debounce: time.Millisecond, MaxDelay: 10 * time.Millisecond})
	t.Cleanup(p.Close)
	p.Connect(cachetest.EnvoyNode("redis-1.default"))
	p.Connect(cachetest.EnvoyNode("web-1.default"))
	p.Update(mesh.New(1, []*resource.Resource{
		{Kind: resource.KindService, Metadata: resource.Metadata{Name: "redis", Namespace: "default"}, Spec: &resource.ServiceSpec{
			Ports: []resource.ServicePort{{Name: "redis", Port: 15001, Protocol: resource.ProtocolTCP}},
		}},
		{Kind: resource.KindWorkload, Metadata: resource.Metadata{Name: "redis-1", Namespace: "default"}, Spec: &resource.WorkloadSpec{
			Address: "127.0.0.1", Services: []string{"redis"}, Ports: []resource.WorkloadPort{{Name: "redis", Port: 15001, AppPort: 6379}},
		}},
		{Kind: resource.KindService, Metadata: resource.Metadata{Name: "web", Namespace: "default"}, Spec: &resource.ServiceSpec{
			Ports: []resource.ServicePort{{Name: "http", Port: 8080, Protocol: resource.ProtocolHTTP}},
		}},
		{Kind: resource.KindWorkload, Metadata: resource.Metadata{Name: "web-1", Namespace: "default"}, Spec: &resource.WorkloadSpec{
			Address: "10.0.0.2", Services: []string{"web"},
		}},
	}))
	poll.Until(t, "revision 1", func() bool { return p.Revision() == 1 })
	if info, _ := p.LastPush(); len(info.Refused) != 0 {
		t.Fatalf("refused: %v", info.Refused)
	}
	redis := snapshotOf(t, p, "redis-1.default").GetResources(resourcev3.ListenerType)
	if _, ok := redis["inbound|15001"]; !ok {
		t.Errorf("redis sidecar lacks its inbound listener: %v", redis)
	}
	if _, ok := redis["outbound_http"]; ok {
		t.Error("redis sidecar was served the outbound listener on its own address")
	}
	if _, ok := snapshotOf(t, p, "web-1.default").GetResources(resourcev3.ListenerType)["outbound_http"]; !ok {
		t.Error("another sidecar lost the outbound HTTP listener")
	}
}
