package compile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/resource"
)

// TestExamplePoliciesCompile compiles every AuthorizationPolicy shipped in
// examples/, as an apply would, and analyses each for the decision cache
// (logged with -v: which are cacheable, on what).
func TestExamplePoliciesCompile(t *testing.T) {
	root := filepath.Join("..", "..", "examples")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	n, cacheable := 0, 0
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
			b, err := Compile(name, spec)
			if err != nil {
				t.Errorf("%s: %s: %v", e.Name(), name, err)
				continue
			}
			d := b.InputDeps()
			if strings.HasPrefix(d.Reason, "does not compile") {
				t.Errorf("%s: %s: %s", e.Name(), name, d.Reason)
			}
			if d.Cacheable {
				cacheable++
			}
			t.Logf("%s: %s: cacheable %t on %q %s", e.Name(), name, d.Cacheable, d.Fields, d.Reason)
		}
	}
	if n == 0 {
		t.Fatal("no AuthorizationPolicy in examples/")
	}
	t.Logf("%d of %d example policies are cacheable", cacheable, n)
}
