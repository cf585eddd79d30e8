package resource

import (
	"strings"
	"testing"
)

func TestToYAMLRoundTrip(t *testing.T) {
	in := mustDecode(t, append(append([]string{}, meshSet...),
		doc(KindMesh, "mesh", "trustDomain: example.org\nmtls: {mode: STRICT}\nsvidTTL: 1h"),
		doc(KindRoute, "reviews", "service: reviews\nrules:\n- matches: [{path: {prefix: /}, headers: [{name: x-on, exact: 'yes'}]}]\n  backends: [{subset: {version: v1}, weight: 0}, {subset: {version: v2}, weight: 100}]\n  timeout: 2s\n  retries: {attempts: 2, retryOn: [5xx]}"),
		doc(KindAuthorizationPolicy, "p", "targets: {selector: {matchLabels: {app: 'true'}}}\nmodules: [{name: a.rego, rego: \"package a\\n\\nallow if true\\n\"}]\ndata: {limits: {max: 10}}"),
	)...)
	out, err := ToYAML(in)
	if err != nil {
		t.Fatalf("ToYAML: %v", err)
	}
	if strings.Contains(string(out), "Origin") || strings.Contains(string(out), "test.yaml") {
		t.Errorf("ToYAML leaked the origin:\n%s", out)
	}
	if !strings.HasPrefix(string(out), "apiVersion: embassy.dev/v1alpha1\nkind: Service\nmetadata:\n") {
		t.Errorf("documents should start with apiVersion, kind, metadata:\n%s", out)
	}
	back, err := Decode("round.yaml", out)
	if err != nil {
		t.Fatalf("Decode(ToYAML(...)): %v\n%s", err, out)
	}
	if len(back) != len(in) {
		t.Fatalf("round trip gave %d resources, want %d", len(back), len(in))
	}
	for i := range in {
		if !Equal(in[i], back[i]) {
			t.Errorf("resource %d changed in the round trip: %s", i, in[i].Key())
		}
	}
	// A zero weight must survive: dropping it would change the split.
	if w := back[len(back)-2].Spec.(*RouteSpec).Rules[0].Backends[0].Weight; w == nil || *w != 0 {
		t.Errorf("zero weight lost in the round trip: %v", w)
	}
}

func TestToYAMLEmpty(t *testing.T) {
	out, err := ToYAML(nil)
	if err != nil || len(out) != 0 {
		t.Errorf("ToYAML(nil) = %q, %v; want empty", out, err)
	}
}
