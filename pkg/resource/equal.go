package resource

import (
	"bytes"
	"encoding/json"
	"maps"
)

// Equal reports whether two resources are semantically equal: same key,
// labels, annotations and spec. Specs are compared as canonical JSON, so
// the key order or spacing of free-form data does not matter; Origin and
// apiVersion do not take part.
func Equal(a, b *Resource) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Key() != b.Key() || !maps.Equal(a.Metadata.Labels, b.Metadata.Labels) ||
		!maps.Equal(a.Metadata.Annotations, b.Metadata.Annotations) {
		return false
	}
	ca, errA := canonicalJSON(a.Spec)
	cb, errB := canonicalJSON(b.Spec)
	return errA == nil && errB == nil && bytes.Equal(ca, cb)
}

// canonicalJSON marshals v with every object's keys sorted and no spacing,
// including inside json.RawMessage fields.
func canonicalJSON(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // compare numbers by their text, not as float64
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	return json.Marshal(generic)
}
