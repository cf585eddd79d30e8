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

var (
	serviceKey = resource.Key{Kind: resource.KindService, Namespace: "default", Name: "echo"}
	routeKey   = resource.Key{Kind: resource.KindRoute, Namespace: "default", Name: "echo"}
)

func seeded(t *testing.T) (*Applier, *store.Memory) {
	t.Helper()
	st := store.NewMemory()
	a := New(st)
	if _, err := a.Apply(context.Background(), decode(t, "echo.yaml", meshtest.ServiceEcho+"---\n"+meshtest.RouteEcho), false); err != nil {
		t.Fatalf("seed apply: %v", err)
	}
	return a, st
}

func TestDeleteRefusesToLeaveDanglingReference(t *testing.T) {
	a, st := seeded(t)
	_, err := a.Delete(context.Background(), []resource.Key{serviceKey}, false)
	var refused *RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("delete of a referenced service returned %v, want *RefusedError", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "Route/default/echo") || !strings.Contains(msg, "delete the referring resources first") {
		t.Fatalf("refusal does not name the referrer and the fix: %s", msg)
	}
	// The Service exists: the refusal must not say it does not.
	if msg := err.Error(); strings.Contains(msg, "does not exist") || !strings.Contains(msg, "Route/default/echo spec.service: refers to Service/default/echo") {
		t.Fatalf("refusal does not say the Route refers to the Service being deleted: %s", msg)
	}
	if st.Revision() != 1 || storedCount(t, st) != 2 {
		t.Fatalf("refused delete changed the store: revision %d, %d stored", st.Revision(), storedCount(t, st))
	}
}

func TestDeleteReferrerAndTargetTogether(t *testing.T) {
	a, st := seeded(t)
	ctx := context.Background()

	res, err := a.Delete(ctx, []resource.Key{serviceKey, routeKey}, true)
	if err != nil {
		t.Fatalf("dry-run delete: %v", err)
	}
	if len(res.Items) != 2 || res.Items[0].Action != Deleted || storedCount(t, st) != 2 {
		t.Fatalf("dry-run delete: items %v, %d stored (want 2 deleted items, 2 stored)", res.Items, storedCount(t, st))
	}

	res, err = a.Delete(ctx, []resource.Key{serviceKey, routeKey}, false)
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if res.Revision != 2 || storedCount(t, st) != 0 {
		t.Fatalf("after delete: revision %d, %d stored; want 2 and 0", res.Revision, storedCount(t, st))
	}
}

func TestDeleteMissingKeyIsNotFound(t *testing.T) {
	a, st := seeded(t)
	missing := resource.Key{Kind: resource.KindService, Namespace: "default", Name: "nope"}
	_, err := a.Delete(context.Background(), []resource.Key{routeKey, missing}, false)
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "Service/default/nope") {
		t.Fatalf("delete of a missing key returned %v, want a not-found error naming it", err)
	}
	if storedCount(t, st) != 2 {
		t.Fatal("a delete with a missing key removed something")
	}
}
