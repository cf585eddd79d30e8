package compile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// workedPolicyFence opens each worked policy of docs/authorization.md: a
// Rego module holding the policy and its tests.
const workedPolicyFence = "```rego worked-policy"

// documentedPolicies returns every worked policy block of the docs.
func documentedPolicies(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/authorization.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	rest := string(doc)
	for {
		var ok bool
		if _, rest, ok = strings.Cut(rest, workedPolicyFence+"\n"); !ok {
			return out
		}
		block, after, ok := strings.Cut(rest, "```")
		if !ok {
			t.Fatalf("a %q block of docs/authorization.md is not closed", workedPolicyFence)
		}
		out, rest = append(out, block), after
	}
}

// TestDocumentedPoliciesPass runs each worked policy of
// docs/authorization.md through Test, as `embassyctl policy test` does:
// every block must compile, have tests, and pass them all.
func TestDocumentedPoliciesPass(t *testing.T) {
	blocks := documentedPolicies(t)
	if len(blocks) < 8 {
		t.Fatalf("docs/authorization.md has %d worked policies, want one per common need (8)", len(blocks))
	}
	for i, b := range blocks {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "policy.rego"), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		passed, failed, err := Test(dir, &out, true)
		if err != nil || failed > 0 || passed < 2 {
			t.Errorf("worked policy %d: %d passed, %d failed, %v:\n%s\n%s", i+1, passed, failed, err, out.String(), b)
		}
	}
}
