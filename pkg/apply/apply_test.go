package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
)

func TestApplyReportsCreatedUpdatedUnchanged(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	a := New(st)

	res, err := a.Apply(ctx, decode(t, "echo.yaml", meshtest.ServiceEcho+"---\n"+meshtest.RouteEcho), false)
	if err != nil {
		t.Fatalf("first apply: %v", err)
	}
	want := map[string]Action{"Service/default/echo": Created, "Route/default/echo": Created}
	if got := actions(res); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("first apply actions = %v, want %v", got, want)
	}
	if res.Revision != 1 || st.Revision() != 1 {
		t.Fatalf("revision after first apply = %d (store %d), want 1", res.Revision, st.Revision())
	}
	if res.Items[0].Key.Kind != resource.KindService {
		t.Errorf("items are not in input order: %v", res.Items)
	}

	res, err = a.Apply(ctx, decode(t, "echo.yaml", meshtest.ServiceEcho+"---\n"+meshtest.RouteEcho), false)
	if err != nil {
		t.Fatalf("second apply: %v", err)
	}
	want = map[string]Action{"Service/default/echo": Unchanged, "Route/default/echo": Unchanged}
	if got := actions(res); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("re-apply actions = %v, want %v", got, want)
	}
	if res.Revision != 1 {
		t.Fatalf("re-apply moved the revision to %d, want 1", res.Revision)
	}

	changed := strings.Replace(meshtest.ServiceEcho, "8080", "9090", 1)
	res, err = a.Apply(ctx, decode(t, "echo.yaml", changed), false)
	if err != nil {
		t.Fatalf("third apply: %v", err)
	}
	if got := actions(res)["Service/default/echo"]; got != Updated {
		t.Fatalf("changed service action = %q, want updated", got)
	}
	if res.Revision != 2 {
		t.Fatalf("revision after update = %d, want 2", res.Revision)
	}
	got, err := st.Get(ctx, resource.Key{Kind: resource.KindService, Namespace: "default", Name: "echo"})
	if err != nil {
		t.Fatalf("get updated service: %v", err)
	}
	if port := got.Spec.(*resource.ServiceSpec).Ports[0].Port; port != 9090 {
		t.Fatalf("stored port = %d, want 9090", port)
	}
}

func TestApplyDryRunWritesNothing(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	a := New(st)

	res, err := a.Apply(ctx, decode(t, "echo.yaml", meshtest.ServiceEcho+"---\n"+meshtest.RouteEcho), true)
	if err != nil {
		t.Fatalf("dry-run apply: %v", err)
	}
	if !res.DryRun {
		t.Error("result does not say it was a dry run")
	}
	if got := actions(res)["Route/default/echo"]; got != Created {
		t.Errorf("dry-run route action = %q, want created", got)
	}
	if st.Revision() != 0 || storedCount(t, st) != 0 {
		t.Fatalf("dry run wrote: revision %d, %d stored", st.Revision(), storedCount(t, st))
	}
}

func TestApplyRefusesWholeApplyOnDanglingReference(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	a := New(st)

	other := strings.Replace(meshtest.ServiceEcho, "name: echo", "name: other", 1)
	dangling := strings.Replace(meshtest.RouteEcho, "service: echo", "service: missing", 1)
	_, err := a.Apply(ctx, decode(t, "mixed.yaml", other+"---\n"+dangling), false)
	var errs *resource.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("apply with a dangling reference returned %v, want *resource.Errors", err)
	}
	if !strings.Contains(err.Error(), "mixed.yaml") || !strings.Contains(err.Error(), "spec.service") {
		t.Errorf("error does not name the file and field: %v", err)
	}
	if st.Revision() != 0 || storedCount(t, st) != 0 {
		t.Fatalf("refused apply stored something: revision %d, %d stored", st.Revision(), storedCount(t, st))
	}
}

func TestApplyRefusesInvalidDocumentAmongGoodOnes(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	a := New(st)
	if _, err := a.Apply(ctx, decode(t, "echo.yaml", meshtest.ServiceEcho), false); err != nil {
		t.Fatalf("seed apply: %v", err)
	}

	good := decode(t, "good.yaml", strings.Replace(meshtest.ServiceEcho, "name: echo", "name: good", 1))
	bad := decode(t, "bad.yaml", meshtest.RouteEcho)
	// A negative weight cannot get through Decode, so break it after, as a
	// caller that builds resources itself could.
	neg := int32(-5)
	bad[0].Spec.(*resource.RouteSpec).Rules[0].Backends[0].Weight = &neg

	_, err := a.Apply(ctx, append(good, bad...), false)
	if err == nil || !strings.Contains(err.Error(), "weight") {
		t.Fatalf("apply with a negative weight returned %v, want an error naming the weight", err)
	}
	if st.Revision() != 1 || storedCount(t, st) != 1 {
		t.Fatalf("refused apply changed the store: revision %d, %d stored", st.Revision(), storedCount(t, st))
	}
}

func TestApplyRefusesDuplicateKeysNamingBothDocuments(t *testing.T) {
	a := New(store.NewMemory())
	rs := append(decode(t, "a.yaml", meshtest.ServiceEcho), decode(t, "b.yaml", meshtest.RouteEcho+"---\n"+meshtest.ServiceEcho)...)
	_, err := a.Apply(context.Background(), rs, false)
	var errs *resource.Errors
	if !errors.As(err, &errs) || len(*errs) != 1 {
		t.Fatalf("duplicate apply returned %v, want one field error", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "a.yaml document 0") || !strings.Contains(msg, "b.yaml: document 1") {
		t.Fatalf("duplicate error does not name both documents: %s", msg)
	}
}

func TestConcurrentAppliesLoseNothing(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	a := New(st)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc := strings.Replace(meshtest.ServiceEcho, "name: echo", fmt.Sprintf("name: svc-%d", i), 1)
			rs, err := resource.Decode("svc.yaml", []byte(doc))
			if err == nil {
				_, err = a.Apply(ctx, rs, false)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent apply: %v", err)
		}
	}
	if got := storedCount(t, st); got != n || st.Revision() != n {
		t.Fatalf("after %d concurrent applies: %d stored at revision %d", n, got, st.Revision())
	}
}
