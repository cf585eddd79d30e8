package cache

import (
	"fmt"
	"testing"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/cache/cachetest"
)

func TestNodesOfOneShapeShareOneSnapshot(t *testing.T) {
	p, fake := newTestPublisher(t)
	const replicas = 10
	for i := range replicas {
		p.Connect(cachetest.EnvoyNode(fmt.Sprintf("w%d.default", i)))
	}
	p.Connect(cachetest.EnvoyNode("a.other"))
	p.Connect(cachetest.EnvoyNode("b.other"))
	p.Connect(cachetest.GRPCNode("client-1"))
	p.Connect(metadataProxylessNode("client-2"))
	p.Connect(cachetest.EnvoyNode("nodot"))

	p.Update(mesh.New(1, nil))
	poll.Until(t, "revision 1", func() bool { return p.Revision() == 1 })

	if got := fake.OutboundCalls(); got != 1 {
		t.Errorf("Outbound ran %d times for one mesh snapshot, want 1", got)
	}
	if got := fake.ProxylessCalls(); got != 1 {
		t.Errorf("ProxylessClient ran %d times for one mesh snapshot, want 1", got)
	}
	if got, want := fake.InboundCalls(), int64(replicas+2); got != want {
		t.Errorf("Inbound ran %d times, want %d (once per Envoy node with a workload)", got, want)
	}

	first := snapshotOf(t, p, "w0.default")
	for i := 1; i < replicas; i++ {
		if s := snapshotOf(t, p, fmt.Sprintf("w%d.default", i)); s != first {
			t.Errorf("w%d.default has its own snapshot; nodes of one shape must share one", i)
		}
	}
	other := snapshotOf(t, p, "a.other")
	if other == first || snapshotOf(t, p, "b.other") != other {
		t.Errorf("namespace other must share one snapshot distinct from default's")
	}
	pl := snapshotOf(t, p, "client-1")
	if snapshotOf(t, p, "client-2") != pl {
		t.Errorf("proxyless nodes must share one snapshot")
	}
	if got := len(pl.GetResources(resourcev3.ListenerType)); got != cachetest.ProxylessListeners {
		t.Errorf("proxyless snapshot has %d listeners, want %d", got, cachetest.ProxylessListeners)
	}
	bare := snapshotOf(t, p, "nodot")
	if _, ok := bare.GetResources(resourcev3.ListenerType)["outbound"]; !ok || len(bare.GetResources(resourcev3.ListenerType)) != 1 {
		t.Errorf("node with an unparsable id: listeners %v, want only the outbound one", bare.GetResources(resourcev3.ListenerType))
	}
	if _, ok := first.GetResources(resourcev3.ListenerType)["inbound|default"]; !ok {
		t.Errorf("default snapshot lacks its inbound listener")
	}

	// A node connecting after the push is served at once from the same
	// generation, without translating the mesh again.
	p.Connect(cachetest.EnvoyNode("late.default"))
	if s := snapshotOf(t, p, "late.default"); s != first {
		t.Errorf("late node of a known shape got a new snapshot")
	}
	if got := fake.OutboundCalls(); got != 1 {
		t.Errorf("connecting a node ran Outbound again (%d calls)", got)
	}

	p.Update(mesh.New(2, nil))
	poll.Until(t, "revision 2", func() bool { return p.Revision() == 2 })
	if got := fake.OutboundCalls(); got != 2 {
		t.Errorf("Outbound ran %d times for two mesh snapshots, want 2", got)
	}
}

func TestVersionsFollowContent(t *testing.T) {
	p, fake := newTestPublisher(t)
	p.Connect(cachetest.EnvoyNode("web.default"))
	p.Update(mesh.New(1, nil))
	poll.Until(t, "revision 1", func() bool { return p.Revision() == 1 })
	before := snapshotOf(t, p, "web.default")

	fake.SetPort("db", 6000)
	p.Update(mesh.New(2, nil))
	poll.Until(t, "revision 2", func() bool { return p.Revision() == 2 })
	after := snapshotOf(t, p, "web.default")

	for _, typ := range []string{resourcev3.ListenerType, resourcev3.RouteType, resourcev3.ClusterType, resourcev3.SecretType} {
		if before.GetVersion(typ) != after.GetVersion(typ) {
			t.Errorf("%s version changed although its resources did not", typ)
		}
	}
	if before.GetVersion(resourcev3.EndpointType) == after.GetVersion(resourcev3.EndpointType) {
		t.Errorf("endpoint version unchanged although db moved")
	}
	bv, av := versionMap(before, resourcev3.EndpointType), versionMap(after, resourcev3.EndpointType)
	if bv["web"] == "" || bv["web"] != av["web"] {
		t.Errorf("web's delta version changed or is empty: %q → %q", bv["web"], av["web"])
	}
	if bv["db"] == av["db"] {
		t.Errorf("db's delta version did not change")
	}
}

func TestDisconnectDropsSnapshotWithLastStream(t *testing.T) {
	p, _ := newTestPublisher(t)
	p.Update(mesh.New(1, nil))
	poll.Until(t, "revision 1", func() bool { return p.Revision() == 1 })

	p.Connect(cachetest.EnvoyNode("web.default"))
	p.Connect(cachetest.EnvoyNode("web.default"))
	p.Disconnect("web.default")
	if _, err := p.Cache().View("web.default"); err != nil {
		t.Fatalf("snapshot dropped while a stream is still open: %v", err)
	}
	p.Disconnect("web.default")
	if _, err := p.Cache().View("web.default"); err == nil {
		t.Fatalf("snapshot kept after the last stream closed")
	}

	// A push after the disconnect must not bring the node back.
	p.Update(mesh.New(2, nil))
	poll.Until(t, "revision 2", func() bool { return p.Revision() == 2 })
	if _, err := p.Cache().View("web.default"); err == nil {
		t.Fatalf("push re-created a disconnected node's snapshot")
	}
}
