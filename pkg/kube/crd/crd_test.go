package crd

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"embassy.dev/embassy/pkg/resource"
)

var update = flag.Bool("update", false, "rewrite deploy/kubernetes/crds.yaml")

const crdFile = "../../../deploy/kubernetes/crds.yaml"

// TestCRDsAreCurrent fails when deploy/kubernetes/crds.yaml is not what
// the spec types make, so a changed type cannot ship with a stale schema.
func TestCRDsAreCurrent(t *testing.T) {
	want, err := YAML()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(crdFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(crdFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./pkg/kube/crd -update", crdFile)
	}
}

func TestPluralsAreWhatEmbassyctlAccepts(t *testing.T) {
	for _, k := range Kinds {
		if got, err := resource.ParseKind(Plural(k)); err != nil || got != k {
			t.Errorf("%s: plural %q parses as %q, %v", k, Plural(k), got, err)
		}
	}
}

func TestSchemaFollowsJSONTags(t *testing.T) {
	route := Definition(resource.KindRoute)
	props := route["spec"].(map[string]any)["versions"].([]any)[0].(map[string]any)["schema"].(map[string]any)["openAPIV3Schema"].(map[string]any)["properties"].(map[string]any)["spec"].(map[string]any)["properties"].(map[string]any)
	if props["service"].(map[string]any)["type"] != "string" || props["port"].(map[string]any)["type"] != "integer" || props["rules"].(map[string]any)["type"] != "array" {
		t.Fatalf("Route spec properties: %v", props)
	}
	rule := props["rules"].(map[string]any)["items"].(map[string]any)["properties"].(map[string]any)
	if rule["timeout"].(map[string]any)["type"] != "string" {
		t.Fatalf("a Duration is not a string: %v", rule["timeout"])
	}
}
