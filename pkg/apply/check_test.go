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

// refuseService is a Check that refuses every Service, and records what
// it was given.
type refuseService struct{ seen []string }

func (c *refuseService) check(rs []*resource.Resource) error {
	var errs resource.Errors
	for _, r := range rs {
		c.seen = append(c.seen, r.Key().String())
		if r.Kind == resource.KindService {
			errs = append(errs, FieldError(r, "spec.ports", "not on this control plane"))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &errs
}

func TestApplyRefusedByACheckStoresNothing(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	c := &refuseService{}
	a := New(st, WithCheck(c.check))

	for _, dryRun := range []bool{true, false} {
		_, err := a.Apply(ctx, decode(t, "echo.yaml", meshtest.RouteEcho+"---\n"+meshtest.ServiceEcho), dryRun)
		var re *resource.Errors
		if !errors.As(err, &re) || len(*re) != 1 {
			t.Fatalf("dryRun=%v: want one field error, got %v", dryRun, err)
		}
		fe := (*re)[0]
		if fe.File != "echo.yaml" || fe.Index != 1 || fe.Path != "spec.ports" || fe.Kind != resource.KindService || fe.Msg != "not on this control plane" {
			t.Fatalf("dryRun=%v: the field error does not locate the Service: %+v", dryRun, fe)
		}
	}
	if st.Revision() != 0 || storedCount(t, st) != 0 {
		t.Fatalf("a refused apply stored something: revision %d, %d resources", st.Revision(), storedCount(t, st))
	}
}

func TestApplyChecksOnlyValidDocuments(t *testing.T) {
	c := &refuseService{}
	a := New(store.NewMemory(), WithCheck(c.check))
	rs := decode(t, "echo.yaml", meshtest.ServiceEcho+"---\n"+meshtest.RouteEcho)
	// Decode validates, so the Route is broken after it.
	rs[1].Spec.(*resource.RouteSpec).Service = ""
	_, err := a.Apply(context.Background(), rs, true)
	if err == nil || !strings.Contains(err.Error(), "not on this control plane") || !strings.Contains(err.Error(), "spec.service") {
		t.Fatalf("want the check's error next to the validation error, got %v", err)
	}
	if strings.Join(c.seen, ",") != "Service/default/echo" {
		t.Fatalf("the check saw %v, want only the valid Service", c.seen)
	}
}

func TestApplyCheckPlainErrorRefuses(t *testing.T) {
	a := New(store.NewMemory(), WithCheck(func([]*resource.Resource) error { return errors.New("closed for maintenance") }))
	_, err := a.Apply(context.Background(), decode(t, "echo.yaml", meshtest.ServiceEcho), false)
	var re *resource.Errors
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "closed for maintenance") {
		t.Fatalf("want a *resource.Errors carrying the check's message, got %v", err)
	}
}
