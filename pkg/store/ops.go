package store

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"embassy.dev/embassy/pkg/resource"
)

// encodedOp is a validated op with its resource already encoded, so that
// nothing can fail once an implementation starts writing.
type encodedOp struct {
	key resource.Key
	// value is the resource's JSON, or nil for a delete.
	value []byte
}

// prepareOps validates every op and encodes every put before any write, so
// a bad op refuses the whole commit without touching the store.
func prepareOps(ops []Op) ([]encodedOp, error) {
	out := make([]encodedOp, 0, len(ops))
	for i, op := range ops {
		if err := checkKey(op.Key); err != nil {
			return nil, fmt.Errorf("op %d: %w", i, err)
		}
		if op.Resource == nil {
			out = append(out, encodedOp{key: op.Key})
			continue
		}
		if got := op.Resource.Key(); got != op.Key {
			return nil, fmt.Errorf("op %d: key %s does not match the resource's own key %s: build the op with Key: r.Key()", i, op.Key, got)
		}
		if err := checkSpec(op.Resource); err != nil {
			return nil, fmt.Errorf("op %d: %s: %w", i, op.Key, err)
		}
		b, err := json.Marshal(op.Resource)
		if err != nil {
			return nil, fmt.Errorf("op %d: encode %s: %w", i, op.Key, err)
		}
		out = append(out, encodedOp{key: op.Key, value: b})
	}
	return out, nil
}

// checkKey refuses keys that could not have come from a valid resource.
func checkKey(k resource.Key) error {
	if resource.NewSpec(k.Kind) == nil {
		return fmt.Errorf("key %s has unknown kind %q: use one of resource.Kinds", k, k.Kind)
	}
	if k.Name == "" {
		return fmt.Errorf("key %s has no name: set metadata.name", k)
	}
	// Bolt keys are Key.String(); a slash inside a part would make two
	// keys render alike.
	if strings.Contains(k.Namespace, "/") || strings.Contains(k.Name, "/") {
		return fmt.Errorf("key %s has a slash in its namespace or name: remove it", k)
	}
	return nil
}

// write is the net effect of a commit on one key: its new JSON, or a
// delete when value is nil.
type write struct {
	key   resource.Key
	value []byte
}

// stage applies ops in order over what is stored and returns only the
// writes that change something, sorted by key. A delete of a key that is
// neither stored nor put earlier in the same commit fails the commit.
func stage(ops []encodedOp, stored func(resource.Key) ([]byte, bool)) ([]write, error) {
	type entry struct {
		value  []byte
		exists bool
	}
	final := make(map[resource.Key]entry, len(ops))
	for i, op := range ops {
		cur, seen := final[op.key]
		if !seen {
			cur.value, cur.exists = stored(op.key)
		}
		if op.value == nil && !cur.exists {
			return nil, fmt.Errorf("op %d: delete %s: %w", i, op.key, ErrNotFound)
		}
		final[op.key] = entry{value: op.value, exists: op.value != nil}
	}
	var writes []write
	for k, e := range final {
		old, ok := stored(k)
		if e.exists == ok && bytes.Equal(e.value, old) {
			continue
		}
		writes = append(writes, write{key: k, value: e.value})
	}
	slices.SortFunc(writes, func(a, b write) int { return compareKeys(a.key, b.key) })
	return writes, nil
}

// checkSpec refuses a spec of another kind's type: it would be stored, but
// read back as the zero spec of the resource's kind.
func checkSpec(r *resource.Resource) error {
	if r.Spec == nil {
		return nil
	}
	want := reflect.TypeOf(resource.NewSpec(r.Kind))
	if got := reflect.TypeOf(r.Spec); got != want {
		return fmt.Errorf("spec is %v but kind %s needs %v", got, r.Kind, want)
	}
	return nil
}

// decode returns a fresh resource from stored JSON, so callers never share
// state with the store or with each other.
func decode(key string, b []byte) (*resource.Resource, error) {
	r := &resource.Resource{}
	if err := r.UnmarshalJSON(b); err != nil {
		return nil, fmt.Errorf("decode stored %s: %w (the stored value is corrupt: delete and re-apply it)", key, err)
	}
	return r, nil
}

// compareKeys orders keys by kind, then namespace, then name: the order
// List promises, identical for every implementation.
func compareKeys(a, b resource.Key) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}

// sortResources sorts resources by key in place.
func sortResources(rs []*resource.Resource) {
	slices.SortFunc(rs, func(a, b *resource.Resource) int { return compareKeys(a.Key(), b.Key()) })
}

// notFound names the missing key and wraps ErrNotFound for errors.Is.
func notFound(k resource.Key) error {
	return fmt.Errorf("%s: %w", k, ErrNotFound)
}
