package envoyrules_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"embassy.dev/embassy/xds/envoyrules"
)

// TestDocsListEveryRule keeps docs/envoy.md in step with the rules: each
// appears there with its id, its Envoy source file and Envoy's error.
func TestDocsListEveryRule(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "envoy.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, r := range envoyrules.Rules() {
		row := "| `" + r.ID + "` | `" + r.Source + "` |"
		i := strings.Index(doc, row)
		if i < 0 {
			t.Errorf("docs/envoy.md has no row %q", row)
			continue
		}
		line := doc[i:]
		line = line[:strings.IndexByte(line, '\n')]
		for _, alt := range strings.Split(r.EnvoyError, " / ") {
			if !strings.Contains(line, alt) {
				t.Errorf("docs/envoy.md row of %s lacks Envoy's error %q", r.ID, alt)
			}
		}
	}
}
