package cache

import (
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/xds/cache/cachetest"
)

func newTestPublisher(t *testing.T) (*Publisher, *cachetest.Translator) {
	t.Helper()
	fake := cachetest.New()
	p := NewPublisher(Options{Translator: fake, Debounce: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond})
	t.Cleanup(p.Close)
	return p, fake
}

// metadataProxylessNode is a proxyless node that says so by its flavour
// metadata rather than by its user agent.
func metadataProxylessNode(id string) *core.Node {
	md, _ := structpb.NewStruct(map[string]any{dataplane.FlavourKey: "proxyless"})
	return &core.Node{Id: id, Metadata: md}
}

func snapshotOf(t *testing.T, p *Publisher, id string) *view {
	t.Helper()
	v, err := p.Cache().View(id)
	if err != nil {
		t.Fatalf("node %s: %v", id, err)
	}
	return v
}

// versionMap is what a delta client holds of a view's type: each
// resource's version by name.
func versionMap(v *view, typ string) map[string]string {
	out := map[string]string{}
	if tv := v.types[typ]; tv != nil && tv.set != nil {
		tv.set.each(func(n string, e *entry) { out[n] = e.hash })
	}
	return out
}
