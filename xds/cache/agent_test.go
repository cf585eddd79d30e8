package cache

import (
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/xds/cache/cachetest"
)

// TestAgentAndItsWorkloadAreTwoNodes connects a proxyless server and its
// agent under the same node id, in both orders: the server keeps its
// server Listener, the agent gets its workload's bundles and nothing else,
// and either one leaving keeps the other's snapshot.
func TestAgentAndItsWorkloadAreTwoNodes(t *testing.T) {
	const id = "echo-a.demo"
	const serverListener = "grpc/server?xds.resource.listening_address=127.0.0.1:50051"
	for _, order := range []string{"agent first", "server first"} {
		t.Run(order, func(t *testing.T) {
			p := NewPublisher(Options{Translator: DefaultTranslator(), Debounce: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond})
			t.Cleanup(p.Close)
			p.Update(cachetest.AgentMesh(1, true))
			poll.Until(t, "revision 1", func() bool { return p.Revision() == 1 })
			nodes := []*core.Node{cachetest.AgentNode(id), cachetest.GRPCNode(id)}
			if order == "server first" {
				nodes[0], nodes[1] = nodes[1], nodes[0]
			}
			for _, n := range nodes {
				p.Connect(n)
			}

			server := snapshotOf(t, p, id)
			if server.GetResources(resourcev3.ListenerType)[serverListener] == nil {
				t.Fatalf("the proxyless server lacks its Listener %s: %v", serverListener, server.GetResources(resourcev3.ListenerType))
			}
			agent := snapshotOf(t, p, id+AgentKeySuffix)
			bundles := agent.GetResources(resourcev3.ExtensionConfigType)
			want := dataplane.AuthzExtensionName("demo", "echo-methods")
			if len(bundles) != 1 || bundles[want] == nil {
				t.Fatalf("the agent's bundles = %v, want exactly %s", bundles, want)
			}
			if v := agent.GetVersion(resourcev3.ExtensionConfigType); v != "rev-echo-methods" {
				t.Errorf("the agent's ExtensionConfig version = %q, want the bundle's revision", v)
			}
			for _, typ := range []string{resourcev3.ListenerType, resourcev3.RouteType, resourcev3.ClusterType, resourcev3.EndpointType, resourcev3.SecretType} {
				if n := len(agent.GetResources(typ)); n != 0 {
					t.Errorf("the agent's snapshot holds %d resources of %s, want none", n, typ)
				}
			}

			// Pushes keep the two apart too.
			p.Update(cachetest.AgentMesh(2, true))
			poll.Until(t, "revision 2", func() bool { return p.Revision() == 2 })
			if snapshotOf(t, p, id).GetResources(resourcev3.ListenerType)[serverListener] == nil {
				t.Error("after a push the proxyless server lacks its Listener")
			}
			if n := len(snapshotOf(t, p, id+AgentKeySuffix).GetResources(resourcev3.ListenerType)); n != 0 {
				t.Errorf("after a push the agent holds %d listeners", n)
			}

			// Whichever connected first leaves first.
			first, second := NodeKey(nodes[0]), NodeKey(nodes[1])
			p.Disconnect(first)
			if _, err := p.Cache().View(first); err == nil {
				t.Errorf("%s's snapshot kept after its last stream", first)
			}
			if _, err := p.Cache().View(second); err != nil {
				t.Errorf("%s leaving dropped %s's snapshot: %v", first, second, err)
			}
		})
	}
}

// TestAgentOfNoWorkloadIsNotAnswered: an agent whose workload is not in
// the mesh yet (its registration not pushed) gets no snapshot at all, not
// an empty one, which would tell it that no policy targets its workload
// and let it allow every request. Once the workload is pushed, the agent
// gets its bundles; when it goes away, the agent keeps the last set.
func TestAgentOfNoWorkloadIsNotAnswered(t *testing.T) {
	p := NewPublisher(Options{Translator: DefaultTranslator(), Debounce: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond})
	t.Cleanup(p.Close)
	p.Update(cachetest.AgentMesh(1, true))
	poll.Until(t, "revision 1", func() bool { return p.Revision() == 1 })
	for _, id := range []string{"ghost.demo", "not-a-node-id"} {
		p.Connect(cachetest.AgentNode(id))
		if snap, err := p.Cache().View(id + AgentKeySuffix); err == nil {
			t.Errorf("an agent of no workload (%s) was given a snapshot: %v", id, snap.GetResources(resourcev3.ExtensionConfigType))
		}
	}
	p.Update(cachetest.AgentMesh(2, true))
	poll.Until(t, "revision 2", func() bool { return p.Revision() == 2 })
	if _, err := p.Cache().View("ghost.demo" + AgentKeySuffix); err == nil {
		t.Error("a push gave an agent of no workload a snapshot")
	}

	// echo-a's agent connects before echo-a is in the mesh.
	p.Update(cachetest.AgentMesh(3, false))
	poll.Until(t, "revision 3", func() bool { return p.Revision() == 3 })
	p.Connect(cachetest.AgentNode("echo-a.demo"))
	key := "echo-a.demo" + AgentKeySuffix
	if _, err := p.Cache().View(key); err == nil {
		t.Fatal("the agent of a workload not yet in the mesh was given a snapshot")
	}
	p.Update(cachetest.AgentMesh(4, true))
	poll.Until(t, "revision 4", func() bool { return p.Revision() == 4 })
	if n := len(snapshotOf(t, p, key).GetResources(resourcev3.ExtensionConfigType)); n != 1 {
		t.Fatalf("once its workload is pushed the agent holds %d bundles, want 1", n)
	}
	p.Update(cachetest.AgentMesh(5, false))
	poll.Until(t, "revision 5", func() bool { return p.Revision() == 5 })
	if n := len(snapshotOf(t, p, key).GetResources(resourcev3.ExtensionConfigType)); n != 1 {
		t.Fatalf("the agent of a workload that went away holds %d bundles, want its last one", n)
	}
}

func TestNodeKey(t *testing.T) {
	for _, c := range []struct {
		node *core.Node
		want string
	}{
		{cachetest.EnvoyNode("web-1.shop"), "web-1.shop"},
		{cachetest.GRPCNode("web-1.shop"), "web-1.shop"},
		{metadataProxylessNode("web-1.shop"), "web-1.shop"},
		{cachetest.AgentNode("web-1.shop"), "web-1.shop#agent"},
	} {
		if got := NodeKey(c.node); got != c.want {
			t.Errorf("NodeKey(%v) = %q, want %q", c.node, got, c.want)
		}
		if id, agent := SplitNodeKey(c.want); id != "web-1.shop" || agent != (FlavourOf(c.node) == Agent) {
			t.Errorf("SplitNodeKey(%q) = %q, %v", c.want, id, agent)
		}
	}
}
