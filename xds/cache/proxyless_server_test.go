package cache

import (
	"sync/atomic"
	"testing"
	"time"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/xds/cache/cachetest"
	"embassy.dev/embassy/xds/translate"
)

// countingTranslator is the real translator, counting the shared
// proxyless translation and the per-node server one.
type countingTranslator struct {
	translateAdapter
	clients, servers atomic.Int64
}

func (c *countingTranslator) ProxylessClient(s *mesh.Snapshot) *translate.Resources {
	c.clients.Add(1)
	return c.translateAdapter.ProxylessClient(s)
}

func (c *countingTranslator) ProxylessServer(s *mesh.Snapshot, p translate.Proxy) *translate.Resources {
	c.servers.Add(1)
	return c.translateAdapter.ProxylessServer(s, p)
}

// serverMesh has one grpc service backed by three workloads: two replicas
// listening on the same address and port, and one elsewhere.
func serverMesh() *mesh.Snapshot {
	svc := &resource.Resource{Kind: resource.KindService, Metadata: resource.Metadata{Name: "echo", Namespace: "demo"},
		Spec: &resource.ServiceSpec{Ports: []resource.ServicePort{{Name: "grpc", Port: 50051, Protocol: resource.ProtocolGRPC}}}}
	workload := func(name, addr string) *resource.Resource {
		return &resource.Resource{Kind: resource.KindWorkload, Metadata: resource.Metadata{Name: name, Namespace: "demo"},
			Spec: &resource.WorkloadSpec{Address: addr, Services: []string{"echo"}}}
	}
	return mesh.New(1, []*resource.Resource{svc, workload("echo-a", "127.0.0.1"), workload("echo-b", "127.0.0.1"), workload("echo-c", "10.0.0.3")})
}

// TestProxylessServersGetTheirListeners checks that a proxyless node whose
// id names a Workload gets the shared client resources plus its server
// Listener, that servers with the same Listeners share a snapshot, and
// that clients still share one snapshot translated once per mesh snapshot.
func TestProxylessServersGetTheirListeners(t *testing.T) {
	tr := &countingTranslator{}
	p := NewPublisher(Options{Translator: tr, Debounce: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond})
	t.Cleanup(p.Close)
	for _, id := range []string{"echo-a.demo", "echo-b.demo", "echo-c.demo", "client-1", "client-2.demo"} {
		p.Connect(cachetest.GRPCNode(id))
	}
	p.Update(serverMesh())
	poll.Until(t, "revision 1", func() bool { return p.Revision() == 1 })

	if got := tr.clients.Load(); got != 1 {
		t.Errorf("ProxylessClient ran %d times for one mesh snapshot, want 1", got)
	}
	if got := tr.servers.Load(); got != 3 {
		t.Errorf("ProxylessServer ran %d times, want 3 (once per node naming a workload)", got)
	}

	client := snapshotOf(t, p, "client-1")
	if snapshotOf(t, p, "client-2.demo") != client {
		t.Error("proxyless clients must share one snapshot")
	}
	clientListeners := client.GetResources(resourcev3.ListenerType)
	a := snapshotOf(t, p, "echo-a.demo")
	if snapshotOf(t, p, "echo-b.demo") != a {
		t.Error("servers with the same listeners must share one snapshot")
	}
	c := snapshotOf(t, p, "echo-c.demo")
	if c == a || a == client {
		t.Error("servers with different listeners, and clients, must have snapshots of their own")
	}
	for snap, name := range map[*view]string{
		a: "grpc/server?xds.resource.listening_address=127.0.0.1:50051",
		c: "grpc/server?xds.resource.listening_address=10.0.0.3:50051",
	} {
		ls := snap.GetResources(resourcev3.ListenerType)
		if ls[name] == nil {
			t.Errorf("server snapshot lacks %s", name)
		}
		if len(ls) != len(clientListeners)+1 {
			t.Errorf("server snapshot has %d listeners, want the %d client ones and its own", len(ls), len(clientListeners))
		}
		for n := range clientListeners {
			if ls[n] == nil {
				t.Errorf("server snapshot lacks client listener %s", n)
			}
		}
		if len(snap.GetResources(resourcev3.ClusterType)) != len(client.GetResources(resourcev3.ClusterType)) {
			t.Error("server snapshot's clusters differ from the clients'")
		}
	}
	if _, ok := clientListeners["grpc/server?xds.resource.listening_address=127.0.0.1:50051"]; ok {
		t.Error("the shared client snapshot holds a server listener")
	}
}
