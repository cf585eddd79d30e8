package store

import (
	"encoding/json"
	"slices"
	"testing"

	"embassy.dev/embassy/pkg/resource"
)

// TestSharedDecodesAfterAFailedPass lists through a corrupt value, then
// through its repair: the failed pass must leave no stale order behind.
func TestSharedDecodesAfterAFailedPass(t *testing.T) {
	value := func(name string) []byte {
		r := &resource.Resource{APIVersion: resource.APIVersion, Kind: resource.KindService,
			Metadata: resource.Metadata{Name: name, Namespace: "default"}, Spec: &resource.ServiceSpec{}}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var s sharedDecodes[string]
	// pass adds values in order, key then value.
	pass := func(values ...[]byte) ([]string, error) {
		rs, err := s.list(keyName, func(add func(string, []byte) error) error {
			for i := 0; i < len(values); i += 2 {
				if err := add(string(values[i]), values[i+1]); err != nil {
					return err
				}
			}
			return nil
		})
		var names []string
		for _, r := range rs {
			names = append(names, r.Metadata.Name)
		}
		return names, err
	}
	key := func(name string) []byte { return []byte("Service/default/" + name) }
	a, b, c := value("a"), value("b"), value("c")
	if got, err := pass(key("b"), b, key("a"), a); err != nil || !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("first pass = %v, %v; want [a b]", got, err)
	}
	// c decodes and is kept before the corrupt value fails the pass.
	if _, err := pass(key("a"), a, key("c"), c, key("b"), b, key("x"), []byte("{not json")); err == nil {
		t.Fatal("a pass over a corrupt value succeeded")
	}
	if got, err := pass(key("c"), c, key("a"), a, key("b"), b); err != nil || !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("the pass after the failed one = %v, %v; want [a b c]", got, err)
	}
	if got, err := pass(key("c"), c, key("a"), a); err != nil || !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("the pass after b's delete = %v, %v; want [a c]", got, err)
	}
	if len(s.entries) != 2 {
		t.Errorf("%d entries kept after b was deleted, want 2", len(s.entries))
	}
}
