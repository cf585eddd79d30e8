package apply

import (
	"context"
	"errors"
	"strings"
	"testing"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
)

const policyHeader = `apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata:
  name: echo-authz
spec:
  targets:
    services: [echo]
  modules:
  - name: authz.rego
    rego: |
`

func policyWith(rego string) string {
	var b strings.Builder
	b.WriteString(policyHeader)
	for _, line := range strings.Split(strings.TrimSuffix(rego, "\n"), "\n") {
		b.WriteString("      " + line + "\n")
	}
	return b.String()
}

func TestApplyRefusesRegoThatDoesNotCompile(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	a := New(st)
	if _, err := a.Apply(ctx, decode(t, "echo.yaml", meshtest.ServiceEcho), false); err != nil {
		t.Fatal(err)
	}
	before := st.Revision()

	bad := policyWith("package envoy.authz\n\nallow if {\n    input.x == ==\n}\n")
	_, err := a.Apply(ctx, decode(t, "authz.yaml", meshtest.ServiceEcho+"---\n"+bad), false)
	var fes *resource.Errors
	if !errors.As(err, &fes) {
		t.Fatalf("apply of bad Rego: err = %v, want *resource.Errors", err)
	}
	msg := err.Error()
	for _, want := range []string{"authz.yaml: document 1", "AuthorizationPolicy default/echo-authz", "spec.modules[0].rego", "authz.rego:4:16: rego_parse_error: unexpected equal token"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
	if got := st.Revision(); got != before {
		t.Errorf("store revision moved from %d to %d after a refused apply", before, got)
	}
	if n := storedCount(t, st); n != 1 {
		t.Errorf("store holds %d resources after a refused apply, want 1", n)
	}
}

func TestApplyReportsOPALocationVerbatim(t *testing.T) {
	st := store.NewMemory()
	// An unknown function is a compile (not parse) error at row 4, col 5.
	bad := policyWith("package envoy.authz\n\nallow if {\n    nosuch.fn(input.x)\n}\n")
	_, err := New(st).Apply(context.Background(), decode(t, "authz.yaml", meshtest.ServiceEcho+"---\n"+bad), false)
	if err == nil {
		t.Fatal("apply of a policy calling an undefined function succeeded")
	}
	if !strings.Contains(err.Error(), "authz.rego:4:5: rego_type_error: undefined function nosuch.fn") {
		t.Errorf("error does not carry OPA's location and message:\n%v", err)
	}
	if st.Revision() != 0 {
		t.Errorf("store revision = %d, want 0", st.Revision())
	}
}

func TestApplyStoresPolicyThatCompiles(t *testing.T) {
	st := store.NewMemory()
	good := policyWith("package envoy.authz\n\ndefault allow := false\n\nallow if input.attributes.request.http.method == \"GET\"\n")
	res, err := New(st).Apply(context.Background(), decode(t, "authz.yaml", meshtest.ServiceEcho+"---\n"+good), false)
	if err != nil {
		t.Fatalf("apply of a good policy: %v", err)
	}
	if got := actions(res)["AuthorizationPolicy/default/echo-authz"]; got != Created {
		t.Errorf("policy action = %q, want created", got)
	}
}
