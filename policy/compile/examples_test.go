package compile

import (
	"os"
	"path/filepath"
	"testing"

	"embassy.dev/embassy/pkg/resource"
)

// TestExamplePoliciesCompile compiles every AuthorizationPolicy shipped in
// examples/, as an apply would.
func TestExamplePoliciesCompile(t *testing.T) {
	root := filepath.Join("..", "..", "examples")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if yamls, _ := filepath.Glob(filepath.Join(root, e.Name(), "*.yaml")); len(yamls) == 0 {
			continue
		}
		rs, err := resource.DecodePath(filepath.Join(root, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			spec, ok := r.Spec.(*resource.AuthorizationPolicySpec)
			if !ok {
				continue
			}
			n++
			name := r.Metadata.Namespace + "/" + r.Metadata.Name
			if _, err := Compile(name, spec); err != nil {
				t.Errorf("%s: %s: %v", e.Name(), name, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("no AuthorizationPolicy in examples/")
	}
}
