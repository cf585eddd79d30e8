package cache

import (
	"slices"
	"strings"
	"testing"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"embassy.dev/embassy/xds/translate"
)

// A layered set lists its own names merged into its base's, each once,
// in order, whichever layer holds it.
func TestLayeredNamesAreMergedInOrder(t *testing.T) {
	set := func(names ...string) *typeSet {
		ts := &typeSet{items: map[string]*entry{}}
		for _, n := range names {
			ts.items[n] = &entry{hash: n}
		}
		return ts
	}
	for _, c := range []struct{ base, own, want []string }{
		{[]string{"b", "d"}, []string{"a", "c", "e"}, []string{"a", "b", "c", "d", "e"}},
		{[]string{"a", "b", "c"}, []string{"b"}, []string{"a", "b", "c"}},
		{[]string{"a"}, []string{"a", "z"}, []string{"a", "z"}},
		{[]string{"x", "y"}, nil, []string{"x", "y"}},
		{nil, []string{"m"}, []string{"m"}},
	} {
		ts := &typeSet{items: set(c.own...).items, base: set(c.base...)}
		if got := ts.names(); !slices.Equal(got, c.want) {
			t.Errorf("base %v own %v: names %v, want %v", c.base, c.own, got, c.want)
		}
		if ts.size() != len(c.want) {
			t.Errorf("base %v own %v: size %d, want %d", c.base, c.own, ts.size(), len(c.want))
		}
	}
}

// Two resources of one type and name would be one in the set and two in
// Envoy's eyes: building the set, shared or scoped, refuses them.
func TestDuplicateResourceNamesAreRefused(t *testing.T) {
	twice := &translate.Resources{Clusters: []*cluster.Cluster{{Name: "svc-a"}, {Name: "svc-a", ConnectTimeout: durationpb.New(time.Second)}}}
	_, err := newResourceSet(twice, newEncodings())
	if err == nil || !strings.Contains(err.Error(), `named "svc-a"`) {
		t.Fatalf("a shared set with two clusters named svc-a: error %v, want one naming the duplicate", err)
	}
	base, err := newResourceSet(&translate.Resources{Clusters: twice.Clusters[:1]}, newEncodings())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := subset(base, twice, newEncodings()); err == nil || !strings.Contains(err.Error(), `named "svc-a"`) {
		t.Fatalf("a scoped set with two clusters named svc-a: error %v, want one naming the duplicate", err)
	}
}
