// Package bundletest makes authorization bundles for tests: compiled from
// one module, or forged so that a bundle passes compile's integrity check
// although it was never compiled, which is what a node sees when the
// control plane's OPA and its own disagree about a module.
package bundletest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"embassy.dev/embassy/policy/compile"
)

// Forge returns b with its first module's Rego replaced by rego and its
// revision recomputed the way compile documents it (the first 8 bytes of
// the SHA-256 of every field but name and revision), as the bundle's JSON
// and the new revision. It fails the test if the result does not decode
// as a compile.Bundle, so a change to the integrity rule shows here.
func Forge(t testing.TB, b *compile.Bundle, rego string) (raw []byte, revision string) {
	t.Helper()
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var w map[string]any
	if err := json.Unmarshal(raw, &w); err != nil {
		t.Fatal(err)
	}
	w["modules"].([]any)[0].(map[string]any)["rego"] = rego
	content := map[string]any{}
	for k, v := range w {
		if k != "name" && k != "revision" {
			content[k] = v
		}
	}
	hashed, err := json.Marshal(content)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(hashed)
	revision = hex.EncodeToString(sum[:8])
	w["revision"] = revision
	if raw, err = json.Marshal(w); err != nil {
		t.Fatal(err)
	}
	var check compile.Bundle
	if err := json.Unmarshal(raw, &check); err != nil {
		t.Fatalf("the forged bundle does not pass the integrity check: %v", err)
	}
	return raw, revision
}

// ForgeBundle is Forge decoded: the forged compile.Bundle itself.
func ForgeBundle(t testing.TB, b *compile.Bundle, rego string) *compile.Bundle {
	t.Helper()
	raw, _ := Forge(t, b, rego)
	var forged compile.Bundle
	if err := json.Unmarshal(raw, &forged); err != nil {
		t.Fatal(err)
	}
	return &forged
}
