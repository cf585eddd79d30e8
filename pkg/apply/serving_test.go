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

const intruder = `apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata:
  name: intruder
spec:
  address: 10.0.0.9
  services: [echo]
  serviceAccount: echo-client
`

// TestWorkloadOutsideTheServiceListIsRefused checks that an applied
// Workload naming a Service that does not allow its service account is
// refused, naming the field and the allowed list, and nothing is stored.
func TestWorkloadOutsideTheServiceListIsRefused(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	a := New(st)
	if _, err := a.Apply(ctx, decode(t, "echo.yaml", meshtest.ServiceEcho), false); err != nil {
		t.Fatal(err)
	}
	rev := st.Revision()
	_, err := a.Apply(ctx, decode(t, "intruder.yaml", intruder), false)
	var fe *resource.Errors
	if !errors.As(err, &fe) {
		t.Fatalf("apply of a Workload whose service account echo does not allow: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"intruder.yaml", "Workload default/intruder", "spec.services[0]", `service account "echo-client" may not serve service echo.default`, "allows [echo]"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, msg)
		}
	}
	if st.Revision() != rev {
		t.Fatalf("a refused apply committed (revision %d → %d)", rev, st.Revision())
	}
	// Listed explicitly, the same Workload is accepted.
	listed := strings.Replace(meshtest.ServiceEcho, "spec:\n", "spec:\n  serviceAccounts: [echo, echo-client]\n", 1)
	if _, err := a.Apply(ctx, decode(t, "echo.yaml", listed+"---\n"+intruder), false); err != nil {
		t.Fatalf("a listed service account is refused: %v", err)
	}
}

// TestServiceChangeThatExcludesWorkloadsIsApplied checks that narrowing a
// Service's list is the operator's call: it is stored, and the Workloads
// it leaves out are reported as warnings.
func TestServiceChangeThatExcludesWorkloadsIsApplied(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	a := New(st)
	if _, err := a.Apply(ctx, decode(t, "echo.yaml", meshtest.ServiceEcho+"---\n"+meshtest.WorkloadEcho), false); err != nil {
		t.Fatal(err)
	}
	narrowed := strings.Replace(meshtest.ServiceEcho, "spec:\n", "spec:\n  serviceAccounts: [echo-v2]\n", 1)
	res, err := a.Apply(ctx, decode(t, "echo.yaml", narrowed), false)
	if err != nil {
		t.Fatalf("a Service change excluding a stored Workload is refused: %v", err)
	}
	if actions(res)["Service/default/echo"] != Updated {
		t.Fatalf("actions %v", actions(res))
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "Workload default/echo-1: spec.services[0]") || !strings.Contains(res.Warnings[0], "allows [echo-v2]") || !strings.Contains(res.Warnings[0], "no traffic") {
		t.Fatalf("warnings %q, want one naming echo-1 and the allowed list", res.Warnings)
	}
}
