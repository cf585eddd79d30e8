package cache

import (
	"fmt"
	"testing"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"

	"embassy.dev/embassy/pkg/mesh"
)

// watchOnce opens a wildcard state-of-the-world watch for typ as node id
// on the served cache and returns the response it gets.
func watchOnce(t *testing.T, p *Publisher, id, typ string) *discovery.DiscoveryResponse {
	t.Helper()
	out := make(chan cachev3.Response, 1)
	req := &discovery.DiscoveryRequest{Node: envoyNode(id), TypeUrl: typ}
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
		p.Connect(envoyNode(fmt.Sprintf("w%d.default", i)))
	}
	p.Connect(envoyNode("a.other"))
	p.Update(mesh.New(1, nil))
	eventually(t, "revision 1", func() bool { return p.Revision() == 1 })

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
	other := watchOnce(t, p, "a.other", resourcev3.ListenerType)
	if other.VersionInfo == first.VersionInfo {
		t.Fatal("namespace other has default's listeners")
	}
	for _, a := range other.Resources {
		for _, b := range first.Resources {
			if a == b {
				t.Fatal("another content reused default's encoded listener")
			}
		}
	}
}
