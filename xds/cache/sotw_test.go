package cache

import (
	"reflect"
	"testing"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/cache/cachetest"
)

// sotwClient plays one SotW stream of one type the way go-control-plane's
// server drives the store: one watch per request, the subscription
// carried from response to request.
type sotwClient struct {
	t       *testing.T
	store   *Store
	node    string
	typeURL string
	sub     stream.Subscription
	version string
}

func newSotWClient(t *testing.T, s *Store, node, typeURL string, names ...string) *sotwClient {
	return &sotwClient{t: t, store: s, node: node, typeURL: typeURL, sub: stream.NewSotwSubscription(names, true)}
}

// request opens a watch as the proxy would after accepting the last
// response (or rejecting it, with nack) and returns the answer, or nil
// when none comes within wait.
func (c *sotwClient) request(wait time.Duration, nack bool, names ...string) *discovery.DiscoveryResponse {
	c.t.Helper()
	if names != nil {
		c.sub.SetResourceSubscription(names)
	}
	req := &discovery.DiscoveryRequest{Node: cachetest.EnvoyNode(c.node), TypeUrl: c.typeURL, VersionInfo: c.version, ResourceNames: names}
	if nack {
		req.ErrorDetail = &statuspb.Status{Message: "rejected"}
	}
	out := make(chan cachev3.Response, 1)
	cancel, err := c.store.CreateWatch(req, c.sub, out)
	if err != nil {
		c.t.Fatal(err)
	}
	defer cancel()
	select {
	case resp := <-out:
		c.sub.SetReturnedResources(resp.GetReturnedResources())
		d, err := resp.GetDiscoveryResponse()
		if err != nil {
			c.t.Fatal(err)
		}
		if !nack {
			c.version = d.GetVersionInfo()
		}
		return d
	case <-time.After(wait):
		return nil
	}
}

func names(d *discovery.DiscoveryResponse) []string {
	var out []string
	for _, a := range d.GetResources() {
		out = append(out, ResourceName(a))
	}
	return out
}

// A change to one load assignment sends a SotW proxy that load assignment
// alone; Clusters, which must be complete, are sent whole; and a proxy
// that opens a new stream gets everything it asks for, even at the
// version it held.
func TestSotWSendsWhatChangedForEndpoints(t *testing.T) {
	p, fake := newTestPublisher(t)
	p.Connect(cachetest.EnvoyNode("w0.default"))
	p.Update(mesh.New(1, nil))
	poll.Until(t, "revision 1", func() bool { return p.Revision() == 1 })

	eds := newSotWClient(t, p.Cache(), "w0.default", resourcev3.EndpointType, "web", "db")
	first := eds.request(5*time.Second, false, "web", "db")
	if got := names(first); len(got) != 2 {
		t.Fatalf("first EDS answer: %v, want web and db", got)
	}
	cds := newSotWClient(t, p.Cache(), "w0.default", resourcev3.ClusterType)
	clusters := len(cds.request(5*time.Second, false).GetResources())
	if eds.request(100*time.Millisecond, false) != nil {
		t.Fatal("answered a proxy that holds the current version")
	}

	fake.SetPort("db", 6000)
	p.Update(mesh.New(2, nil))
	poll.Until(t, "revision 2", func() bool { return p.Revision() == 2 })
	got := eds.request(5*time.Second, false)
	if n := names(got); len(n) != 1 || n[0] != "db" {
		t.Fatalf("after db moved, the EDS answer holds %v, want [db]", n)
	}
	if got.GetVersionInfo() == first.GetVersionInfo() {
		t.Fatal("the EDS version did not change")
	}

	// A change to a name the proxy does not subscribe to sends it none.
	fake.SetPort("cache", 6379)
	p.Update(mesh.New(3, nil))
	poll.Until(t, "revision 3", func() bool { return p.Revision() == 3 })
	if n := names(cds.request(5*time.Second, false)); len(n) != clusters+1 {
		t.Fatalf("CDS answer after a cluster was added holds %v, want all %d", n, clusters+1)
	}
	got = eds.request(5*time.Second, false)
	if n := names(got); len(n) != 0 {
		t.Fatalf("EDS answer for a change to a name not subscribed holds %v, want none", n)
	}
	// New names send everything subscribed: the store keeps a fingerprint
	// of the names per stream, not the names.
	if n := names(eds.request(5*time.Second, false, "web", "db", "cache")); len(n) != 3 {
		t.Fatalf("subscribing to cache sent %v, want all three", n)
	}
	if eds.request(100*time.Millisecond, false, "db", "cache", "web") != nil {
		t.Fatal("the same names in another order were answered again")
	}
	// Unsubscribing from the name the fingerprint is kept under is a new
	// subscription too.
	if n := names(eds.request(5*time.Second, false, "db", "web")); len(n) != 2 {
		t.Fatalf("after unsubscribing from cache got %v, want db and web", n)
	}

	// A new stream at the same version gets everything.
	again := newSotWClient(t, p.Cache(), "w0.default", resourcev3.EndpointType, "web", "db", "cache")
	again.version = eds.version
	if n := names(again.request(5*time.Second, false, "web", "db", "cache")); len(n) != 3 {
		t.Fatalf("a new stream got %v, want all three", n)
	}
}

// After a rejection the proxy may hold less than it was sent: the next
// answer, once the content changes, carries everything it subscribes to.
func TestSotWAfterRejectionSendsEverything(t *testing.T) {
	p, fake := newTestPublisher(t)
	p.Connect(cachetest.EnvoyNode("w0.default"))
	p.Update(mesh.New(1, nil))
	poll.Until(t, "revision 1", func() bool { return p.Revision() == 1 })
	eds := newSotWClient(t, p.Cache(), "w0.default", resourcev3.EndpointType, "web", "db")
	eds.request(5*time.Second, false, "web", "db")

	fake.SetPort("db", 6000)
	p.Update(mesh.New(2, nil))
	poll.Until(t, "revision 2", func() bool { return p.Revision() == 2 })
	rejected := eds.request(5*time.Second, false)
	// The tracker presents the rejected version, so the watch waits.
	eds.version = rejected.GetVersionInfo()
	if eds.request(100*time.Millisecond, true) != nil {
		t.Fatal("the rejected version was sent again")
	}
	fake.SetPort("db", 6001)
	p.Update(mesh.New(3, nil))
	poll.Until(t, "revision 3", func() bool { return p.Revision() == 3 })
	if n := names(eds.request(5*time.Second, true)); len(n) != 2 {
		t.Fatalf("after a rejection the next answer holds %v, want web and db", n)
	}
}

// Proxies of two shapes that hold the same load assignments and
// subscribe to the same names are given one list of them, which the
// tracker then keeps once for both.
func TestSameSubscriptionsShareOneAnswer(t *testing.T) {
	p, _ := newTestPublisher(t)
	p.Connect(cachetest.EnvoyNode("w0.default"))
	p.Connect(cachetest.EnvoyNode("a.other"))
	p.Update(mesh.New(1, nil))
	poll.Until(t, "revision 1", func() bool { return p.Revision() == 1 })
	if snapshotOf(t, p, "w0.default") == snapshotOf(t, p, "a.other") {
		t.Fatal("the two nodes have one shape; the test needs two")
	}
	mine := newSotWClient(t, p.Cache(), "w0.default", resourcev3.EndpointType, "web", "db").request(5*time.Second, false, "web", "db")
	theirs := newSotWClient(t, p.Cache(), "a.other", resourcev3.EndpointType, "db", "web").request(5*time.Second, false, "db", "web")
	if len(mine.GetResources()) != 2 || reflect.ValueOf(mine.GetResources()).Pointer() != reflect.ValueOf(theirs.GetResources()).Pointer() {
		t.Fatalf("two proxies subscribing to the same load assignments got lists of their own (%d and %d resources)", len(mine.GetResources()), len(theirs.GetResources()))
	}
}
