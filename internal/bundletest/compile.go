package bundletest

import (
	"testing"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
)

// Compile compiles a policy named name of one module, authz.rego, after
// the edits to its spec, and fails the test if it does not compile.
func Compile(t testing.TB, name, rego string, edit ...func(*resource.AuthorizationPolicySpec)) *compile.Bundle {
	t.Helper()
	spec := &resource.AuthorizationPolicySpec{Modules: []resource.RegoModule{{Name: "authz.rego", Rego: rego}}}
	for _, e := range edit {
		e(spec)
	}
	b, err := compile.Compile(name, spec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
