package resource

import "testing"

// TestLabelsMatch pins the selector reading, notably that an empty value
// asks for the label to be present with that value.
func TestLabelsMatch(t *testing.T) {
	cases := []struct {
		name             string
		labels, selector map[string]string
		want             bool
	}{
		{"empty selector", map[string]string{"a": "1"}, nil, true},
		{"empty selector, no labels", nil, map[string]string{}, true},
		{"subset of labels", map[string]string{"a": "1", "b": "2"}, map[string]string{"a": "1"}, true},
		{"other value", map[string]string{"a": "1"}, map[string]string{"a": "2"}, false},
		{"missing key", map[string]string{"b": "2"}, map[string]string{"a": "1"}, false},
		{"empty value present", map[string]string{"version": ""}, map[string]string{"version": ""}, true},
		{"empty value, label missing", map[string]string{"app": "x"}, map[string]string{"version": ""}, false},
		{"empty value, no labels", nil, map[string]string{"version": ""}, false},
		{"empty value, label set", map[string]string{"version": "v1"}, map[string]string{"version": ""}, false},
	}
	for _, tc := range cases {
		if got := LabelsMatch(tc.labels, tc.selector); got != tc.want {
			t.Errorf("%s: LabelsMatch(%v, %v) = %v, want %v", tc.name, tc.labels, tc.selector, got, tc.want)
		}
	}
}
