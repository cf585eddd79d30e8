package cache

import (
	"slices"
	"testing"
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
