package resource

import (
	"encoding/json"
	"testing"
)

func TestEqual(t *testing.T) {
	base := func() *Resource {
		rs := mustDecode(t, "apiVersion: embassy.dev/v1alpha1\nkind: AuthorizationPolicy\nmetadata:\n  name: p\n  labels: {team: a}\n  annotations: {note: x}\n"+
			"spec:\n  targets: {services: [a]}\n  modules: [{name: a.rego, rego: 'package a'}]\n  data: {b: 1, a: [1, 2]}\n")
		return rs[0]
	}
	cases := []struct {
		name   string
		mutate func(r *Resource)
		want   bool
	}{
		{"identical", func(*Resource) {}, true},
		{"origin ignored", func(r *Resource) { r.Origin = &Origin{File: "other.yaml", Index: 9} }, true},
		{"data key order and spacing ignored", func(r *Resource) {
			r.Spec.(*AuthorizationPolicySpec).Data = json.RawMessage(`{ "a": [1,2], "b": 1 }`)
		}, true},
		{"annotations rebuilt", func(r *Resource) { r.Metadata.Annotations = map[string]string{"note": "x"} }, true},
		{"name", func(r *Resource) { r.Metadata.Name = "q" }, false},
		{"namespace", func(r *Resource) { r.Metadata.Namespace = "prod" }, false},
		{"label", func(r *Resource) { r.Metadata.Labels["team"] = "b" }, false},
		{"annotation", func(r *Resource) { r.Metadata.Annotations = nil }, false},
		{"data value", func(r *Resource) { r.Spec.(*AuthorizationPolicySpec).Data = json.RawMessage(`{"a":[1,2],"b":2}`) }, false},
		{"spec field", func(r *Resource) { r.Spec.(*AuthorizationPolicySpec).Mode = "dry-run" }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := base(), base()
			tc.mutate(b)
			if got := Equal(a, b); got != tc.want {
				t.Errorf("Equal = %v, want %v", got, tc.want)
			}
			if got := Equal(b, a); got != tc.want {
				t.Errorf("Equal is not symmetric: got %v, want %v", got, tc.want)
			}
		})
	}
	if Equal(base(), nil) || !Equal(nil, nil) {
		t.Error("Equal with nil: want false against a resource and true for two nils")
	}
	empty, none := base(), base()
	empty.Metadata.Labels, none.Metadata.Labels = map[string]string{}, nil
	if !Equal(empty, none) {
		t.Error("empty and nil labels should be equal: neither is serialised")
	}
}
