package cache

import (
	"testing"
	"unsafe"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/cache/cachetest"
)

// A request's names, decoded afresh each time, are replaced by the
// copies the node's view holds (or, for a name it does not hold, the
// process's one copy), so the names the server keeps per stream cost
// nothing per stream.
func TestInternNamesSharesTheViewsCopies(t *testing.T) {
	p, _ := newTestPublisher(t)
	p.Connect(cachetest.EnvoyNode("w0.default"))
	p.Update(mesh.New(1, nil))
	poll.Until(t, "revision 1", func() bool { return p.Revision() == 1 })
	e, ok := snapshotOf(t, p, "w0.default").types[resourcev3.EndpointType].get("db")
	if !ok {
		t.Fatal("the view holds no db load assignment")
	}
	names := []string{string([]byte("db")), string([]byte("nowhere"))}
	p.Cache().InternNames("w0.default", resourcev3.EndpointType, names)
	if unsafe.StringData(names[0]) != unsafe.StringData(e.delta.Name) {
		t.Error("db was not replaced by the view's copy of its name")
	}
	if unsafe.StringData(names[1]) != unsafe.StringData(Intern("nowhere")) {
		t.Error("a name the view does not hold was not interned")
	}
}
