package cache

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/cache/cachetest"
)

// watchOnce opens a wildcard state-of-the-world watch for typ as node id
// on the served cache and returns the response it gets.
func watchOnce(t *testing.T, p *Publisher, id, typ string) *discovery.DiscoveryResponse {
	t.Helper()
	out := make(chan cachev3.Response, 1)
	req := &discovery.DiscoveryRequest{Node: cachetest.EnvoyNode(id), TypeUrl: typ}
	sub := stream.NewSotwSubscription(nil, true)
	cancel, err := p.Cache().CreateWatch(req, sub, out)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	select {
	case resp := <-out:
		d, err := resp.GetDiscoveryResponse()
		if err != nil {
			t.Fatal(err)
		}
		return d
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no %s response", id, typ)
		return nil
	}
}

// Proxies served the same content get the same encoded resources, each in
// a response of its own; other content is encoded on its own.
func TestSameContentIsEncodedOnce(t *testing.T) {
	p, _ := newTestPublisher(t)
	for i := range 3 {
		p.Connect(cachetest.EnvoyNode(fmt.Sprintf("w%d.default", i)))
	}
	p.Connect(cachetest.EnvoyNode("a.other"))
	p.Update(mesh.New(1, nil))
	poll.Until(t, "revision 1", func() bool { return p.Revision() == 1 })

	first := watchOnce(t, p, "w0.default", resourcev3.ListenerType)
	if len(first.Resources) == 0 {
		t.Fatal("no listeners")
	}
	for i := 1; i < 3; i++ {
		r := watchOnce(t, p, fmt.Sprintf("w%d.default", i), resourcev3.ListenerType)
		if r == first {
			t.Fatal("two watches share one DiscoveryResponse: the server sets each one's nonce")
		}
		if len(r.Resources) != len(first.Resources) || r.VersionInfo != first.VersionInfo {
			t.Fatalf("w%d.default: %d resources at %s, want %d at %s", i, len(r.Resources), r.VersionInfo, len(first.Resources), first.VersionInfo)
		}
		for j := range r.Resources {
			if r.Resources[j] != first.Resources[j] {
				t.Fatalf("w%d.default's listener %d was encoded again", i, j)
			}
		}
	}
	// Another shape's response is its own, but a resource both shapes'
	// snapshots hold (the outbound listener) is encoded once for both.
	other := watchOnce(t, p, "a.other", resourcev3.ListenerType)
	if other.VersionInfo == first.VersionInfo {
		t.Fatal("namespace other has default's listeners")
	}
	mine, theirs := snapshotOf(t, p, "w0.default").GetResources(resourcev3.ListenerType), snapshotOf(t, p, "a.other").GetResources(resourcev3.ListenerType)
	sharedObjects := 0
	for i, a := range first.Resources {
		for j, b := range other.Resources {
			name := listenerName(t, a)
			if name != listenerName(t, b) {
				continue
			}
			same := mine[name] == theirs[name]
			if same {
				sharedObjects++
			}
			if same != (first.Resources[i] == other.Resources[j]) {
				t.Fatalf("listener %s: one object in both snapshots %v, one encoding %v", name, same, !same)
			}
		}
	}
	if sharedObjects == 0 {
		t.Fatal("the shapes share no listener object; the test needs one")
	}
}

// listenerName decodes an encoded listener's name.
func listenerName(t *testing.T, a *anypb.Any) string {
	t.Helper()
	var l listener.Listener
	if err := a.UnmarshalTo(&l); err != nil {
		t.Fatal(err)
	}
	return l.GetName()
}

// deltaWatchOn opens a wildcard delta watch for typ as node id on c, the
// client having been sent known (name to version) before, and returns the
// response.
func deltaWatchOn(t *testing.T, c cachev3.ConfigWatcher, id, typ string, known map[string]string) *discovery.DeltaDiscoveryResponse {
	t.Helper()
	out := make(chan cachev3.DeltaResponse, 1)
	req := &discovery.DeltaDiscoveryRequest{Node: cachetest.EnvoyNode(id), TypeUrl: typ}
	sub := stream.NewDeltaSubscription(nil, nil, known, true)
	cancel, err := c.CreateDeltaWatch(req, sub, out)
	if err != nil {
		t.Fatal(err)
	}
	if cancel != nil {
		defer cancel()
	}
	select {
	case resp := <-out:
		d, err := resp.GetDeltaDiscoveryResponse()
		if err != nil {
			t.Fatal(err)
		}
		return d
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no %s delta response", id, typ)
		return nil
	}
}

// byName sorts a delta response's resources, whose order follows a map.
func byName(d *discovery.DeltaDiscoveryResponse) *discovery.DeltaDiscoveryResponse {
	c := proto.Clone(d).(*discovery.DeltaDiscoveryResponse)
	sort.Slice(c.Resources, func(i, j int) bool { return c.Resources[i].Name < c.Resources[j].Name })
	sort.Strings(c.RemovedResources)
	return c
}

// A delta response over shared encodings is the one go-control-plane's
// snapshot cache builds from the same resources (resources, versions,
// removals), and proxies of one shape share each encoded resource.
func TestDeltaResponsesShareEncodedResources(t *testing.T) {
	p, _ := newTestPublisher(t)
	for i := range 2 {
		p.Connect(cachetest.EnvoyNode(fmt.Sprintf("w%d.default", i)))
	}
	p.Update(mesh.New(1, nil))
	poll.Until(t, "revision 1", func() bool { return p.Revision() == 1 })

	for _, typ := range []string{resourcev3.ListenerType, resourcev3.ClusterType} {
		// The client knows a resource the snapshot no longer has, and
		// holds an old version of one it has.
		known := map[string]string{"gone": "v0"}
		for name := range snapshotOf(t, p, "w0.default").GetResources(typ) {
			known[name] = "stale"
			break
		}
		shared := deltaWatchOn(t, p.Cache(), "w0.default", typ, known)
		raw := deltaWatchOn(t, referenceCache(t, "w0.default", snapshotOf(t, p, "w0.default")), "w0.default", typ, known)
		if v := snapshotOf(t, p, "w0.default").GetVersion(typ); shared.SystemVersionInfo != v {
			t.Fatalf("%s: system version %q, want the view's %q", typ, shared.SystemVersionInfo, v)
		}
		raw.SystemVersionInfo = shared.SystemVersionInfo
		if len(shared.Resources) == 0 || !proto.Equal(byName(shared), byName(raw)) {
			t.Fatalf("%s: the shared delta response differs from the cache's own:\nshared %v\nraw    %v", typ, byName(shared), byName(raw))
		}
		if len(shared.RemovedResources) != 1 || shared.RemovedResources[0] != "gone" {
			t.Fatalf("%s: removed %v, want [gone]", typ, shared.RemovedResources)
		}
		other := deltaWatchOn(t, p.Cache(), "w1.default", typ, nil)
		encoded := map[string]*discovery.Resource{}
		for _, r := range shared.Resources {
			encoded[r.Name] = r
		}
		for _, r := range other.Resources {
			if e, ok := encoded[r.Name]; ok && e.Resource != r.Resource {
				t.Fatalf("%s: %s was encoded again for another proxy of the shape", typ, r.Name)
			}
		}
		if other == shared {
			t.Fatal("two watches share one DeltaDiscoveryResponse: the server sets each one's nonce")
		}
	}
}

// Cancelling a watch returns only once the store is done with it, so the
// server may close the response channel right after (the delta server
// does when a stream ends) and no response of a cancelled watch arrives
// later: neither may panic or deliver.
func TestCancelledWatchesForwardNothingAfterwards(t *testing.T) {
	p, _ := newTestPublisher(t)
	p.Connect(cachetest.EnvoyNode("w0.default"))
	p.Update(mesh.New(1, nil))
	poll.Until(t, "revision 1", func() bool { return p.Revision() == 1 })
	for range 200 {
		out := make(chan cachev3.DeltaResponse, 1)
		req := &discovery.DeltaDiscoveryRequest{Node: cachetest.EnvoyNode("w0.default"), TypeUrl: resourcev3.ClusterType}
		cancel, err := p.Cache().CreateDeltaWatch(req, stream.NewDeltaSubscription(nil, nil, nil, true), out)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		close(out)
		for range out {
		}
	}
	for range 200 {
		out := make(chan cachev3.Response, 1)
		req := &discovery.DiscoveryRequest{Node: cachetest.EnvoyNode("w0.default"), TypeUrl: resourcev3.ClusterType}
		cancel, err := p.Cache().CreateWatch(req, stream.NewSotwSubscription(nil, true), out)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		close(out)
		for range out {
		}
	}
}

// referenceCache is go-control-plane's snapshot cache holding v's
// resources for node id, to compare answers with.
func referenceCache(t *testing.T, id string, v *view) cachev3.SnapshotCache {
	t.Helper()
	byType := map[string][]types.Resource{}
	for typ := range v.types {
		for _, r := range v.GetResources(typ) {
			byType[typ] = append(byType[typ], r)
		}
	}
	snap, err := cachev3.NewSnapshot("ref", byType)
	if err != nil {
		t.Fatal(err)
	}
	c := cachev3.NewSnapshotCache(false, cachev3.IDHash{}, nil)
	if err := c.SetSnapshot(context.Background(), id, snap); err != nil {
		t.Fatal(err)
	}
	return c
}
