package cache

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// endpointView builds the next view of a set of load assignments, given
// as content hash by name, after prev (nil for the first).
func endpointView(prev *typeView, content map[string]string) *typeView {
	ts := &typeSet{items: map[string]*entry{}}
	for n, h := range content {
		ts.items[n] = newEntry(n, nil, h, &anypb.Any{TypeUrl: resourcev3.EndpointType, Value: []byte(h)})
	}
	ts.version = versionOf(ts.items)
	var pv *view
	if prev != nil {
		pv = &view{types: map[resourcev3.Type]*typeView{resourcev3.EndpointType: prev}}
	}
	return newView(resourceSet{resourcev3.EndpointType: ts}, pv, newViewBuilder()).types[resourcev3.EndpointType]
}

// summary is a delta response as name@version upserts and -name removals.
func summary(r *discovery.DeltaDiscoveryResponse) []string {
	var out []string
	for _, x := range r.GetResources() {
		out = append(out, x.GetName()+"@"+x.GetVersion())
	}
	for _, n := range r.GetRemovedResources() {
		out = append(out, "-"+n)
	}
	slices.Sort(out)
	return out
}

func TestDeltaSubSendsWhatTheProxyLacks(t *testing.T) {
	v1 := endpointView(nil, map[string]string{"a": "1", "b": "1", "c": "1"})
	d := NewDeltaSub(nil, nil, map[string]string{"a": "1", "b": "0", "gone": "9"}, true)
	r, ok := answerDeltaSub(v1, d, resourcev3.EndpointType, true)
	if got, want := summary(r), []string{"-gone", "b@1", "c@1"}; !ok || !slices.Equal(got, want) {
		t.Fatalf("a reconnect holding a@1, b@0 and gone: got %v (sent %v), want %v", got, ok, want)
	}
	if r, ok := answerDeltaSub(v1, d, resourcev3.EndpointType, false); ok {
		t.Fatalf("nothing changed, yet sent %v", summary(r))
	}
	v2 := endpointView(v1, map[string]string{"a": "2", "b": "1"})
	r, ok = answerDeltaSub(v2, d, resourcev3.EndpointType, false)
	if got, want := summary(r), []string{"-c", "a@2"}; !ok || !slices.Equal(got, want) {
		t.Fatalf("after a push changing a and dropping c: got %v, want %v", got, want)
	}
	d.Update([]string{"b"}, []string{"*"})
	v3 := endpointView(v2, map[string]string{"a": "3", "b": "1"})
	if r, ok := answerDeltaSub(v3, d, resourcev3.EndpointType, false); ok {
		t.Fatalf("a changed, but the stream subscribes to b alone now; sent %v", summary(r))
	}
	d.Update([]string{"a"}, nil)
	r, ok = answerDeltaSub(v3, d, resourcev3.EndpointType, false)
	if got, want := summary(r), []string{"a@3"}; !ok || !slices.Equal(got, want) {
		t.Fatalf("subscribing to a: got %v, want %v", got, want)
	}
}

func TestStreamsSubscribingAlikeShareTheirNames(t *testing.T) {
	a := NewDeltaSub([]string{"x", "y", "z"}, nil, nil, true)
	b := NewDeltaSub([]string{"z", "y"}, nil, nil, true)
	b.Update([]string{"x"}, nil)
	if a.names != b.names {
		t.Fatalf("two streams subscribing to x, y, z hold two sets of names")
	}
	b.Update(nil, []string{"x"})
	if a.names == b.names || len(a.Names()) != 3 || len(b.Names()) != 2 {
		t.Fatalf("unsubscribing one stream from x changed the other's names: %v, %v", a.Names(), b.Names())
	}
}

// TestDeltaSubAnswersAsGoControlPlane runs random pushes and subscription
// changes against a DeltaSub and against go-control-plane's subscription
// with a full map of what the proxy holds (the form the store's
// CreateDeltaWatch answers), and requires the same answer at every step.
func TestDeltaSubAnswersAsGoControlPlane(t *testing.T) {
	universe := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	pick := func(rng *rand.Rand, wild bool) []string {
		var out []string
		for _, n := range universe {
			if rng.IntN(4) == 0 {
				out = append(out, n)
			}
		}
		if wild && rng.IntN(6) == 0 {
			out = append(out, "*")
		}
		return out
	}
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		content := map[string]string{}
		push := func(prev *typeView) *typeView {
			for _, n := range universe {
				switch rng.IntN(5) {
				case 0:
					delete(content, n)
				case 1:
					content[n] = fmt.Sprint(rng.IntN(3))
				}
			}
			return endpointView(prev, content)
		}
		tv := push(nil)
		initial := map[string]string{}
		for _, n := range pick(rng, false) {
			initial[n] = fmt.Sprint(rng.IntN(3))
		}
		sub0, unsub0 := pick(rng, true), pick(rng, false)
		ref := stream.NewDeltaSubscription(sub0, unsub0, maps.Clone(initial), true)
		d := NewDeltaSub(sub0, unsub0, maps.Clone(initial), true)
		nonce := ""
		for step := range 40 {
			switch rng.IntN(4) {
			case 0:
				for range rng.IntN(maxChanges + 4) {
					tv = push(tv)
				}
			case 1:
				s, u := pick(rng, true), pick(rng, true)
				ref.UpdateResourceSubscriptions(s, u)
				d.Update(s, u)
			}
			force := ref.IsWildcard() && nonce == ""
			want, wok := answerDelta(tv, &discovery.DeltaDiscoveryRequest{TypeUrl: resourcev3.EndpointType, ResponseNonce: nonce}, ref)
			got, gok := answerDeltaSub(tv, d, resourcev3.EndpointType, force)
			if wok != gok {
				t.Fatalf("seed %d step %d: answered %v, go-control-plane's form %v", seed, step, gok, wok)
			}
			if !wok {
				continue
			}
			w, _ := want.GetDeltaDiscoveryResponse()
			if !slices.Equal(summary(got), summary(w)) {
				t.Fatalf("seed %d step %d: sent %v, go-control-plane's form %v", seed, step, summary(got), summary(w))
			}
			ref.SetReturnedResources(want.GetNextVersionMap())
			nonce = fmt.Sprint(step)
		}
	}
}

func TestNewStreamsOfAShapeShareTheirFirstAnswer(t *testing.T) {
	tv := endpointView(nil, map[string]string{"a": "1", "b": "1", "c": "1"})
	var lists [][]*discovery.Resource
	for _, names := range [][]string{nil, nil, {"c", "a"}, {"a", "c"}} {
		r, ok := answerDeltaSub(tv, NewDeltaSub(names, nil, nil, true), resourcev3.EndpointType, names == nil)
		if !ok {
			t.Fatalf("no first answer for %v", names)
		}
		lists = append(lists, r.GetResources())
	}
	if got := summary(&discovery.DeltaDiscoveryResponse{Resources: lists[2]}); !slices.Equal(got, []string{"a@1", "c@1"}) {
		t.Fatalf("first answer to a and c: %v", got)
	}
	if &lists[0][0] != &lists[1][0] || &lists[2][0] != &lists[3][0] {
		t.Fatalf("two new wildcard streams, or two subscribing to a and c, were each built their own first answer")
	}
}
