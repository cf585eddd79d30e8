package agent

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/identity/wire"
	"embassy.dev/embassy/pkg/resource"
)

// scriptedRegister answers Register with its errors in turn, a nil one
// and every call after the last as a success; the Registrar calls nothing
// else but Deregister.
type scriptedRegister struct {
	ControlPlane
	mu    sync.Mutex
	errs  []error
	calls int
}

func (s *scriptedRegister) Register(context.Context, string, resource.WorkloadSpec) (*wire.RegisterResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	var err error
	if len(s.errs) > 0 {
		err, s.errs = s.errs[0], s.errs[1:]
	}
	if err != nil {
		return nil, err
	}
	return &wire.RegisterResponse{LeaseSeconds: 30}, nil
}

func (s *scriptedRegister) Deregister(context.Context, string) error { return nil }

func (s *scriptedRegister) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// runRegistrar runs a Registrar against cp with a short interval until it
// returns or the test's bound passes, and returns its error and whether it
// returned by itself.
func runRegistrar(t *testing.T, cp ControlPlane, bound time.Duration) (error, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- (&Registrar{ControlPlane: cp, Name: "web-1", Interval: 10 * time.Millisecond}).Run(ctx)
	}()
	select {
	case err := <-done:
		return err, ctx.Err() == nil
	case <-time.After(bound + 10*time.Second):
		t.Fatal("the Registrar did not return after its context ended")
		return nil, false
	}
}

func TestRegistrarStopsWhenTheFirstRegistrationIsRefused(t *testing.T) {
	for _, code := range []codes.Code{codes.PermissionDenied, codes.InvalidArgument} {
		cp := &scriptedRegister{errs: []error{status.Error(code, "Workload default/web-1: spec.services: at least one service is required")}}
		err, early := runRegistrar(t, cp, 10*time.Second)
		if !early || err == nil || !strings.Contains(err.Error(), `refused to register workload "web-1"`) || !strings.Contains(err.Error(), "spec.services") {
			t.Errorf("%s: Run = %v (returned by itself: %v), want the refusal at once", code, err, early)
		}
		if cp.count() != 1 {
			t.Errorf("%s: %d registrations, want 1", code, cp.count())
		}
	}
}

func TestRegistrarRetriesWhatMayPass(t *testing.T) {
	// The control plane unreachable at first; and a refusal after the
	// workload was registered (the operator changing the mesh).
	cp := &scriptedRegister{errs: []error{status.Error(codes.Unavailable, "connection refused")}}
	if err, early := runRegistrar(t, cp, 300*time.Millisecond); early || err != nil {
		t.Errorf("unavailable: Run = %v (returned by itself: %v), want retries until stopped", err, early)
	}
	if cp.count() < 2 {
		t.Errorf("unavailable: %d registrations, want retries", cp.count())
	}
	denied := status.Error(codes.PermissionDenied, "not allowed any more")
	later := &scriptedRegister{errs: []error{nil, denied, denied}}
	if err, early := runRegistrar(t, later, 300*time.Millisecond); early || err != nil {
		t.Errorf("refused after registering: Run = %v (returned by itself: %v), want retries until stopped", err, early)
	}
	if later.count() < 4 {
		t.Errorf("refused after registering: %d registrations, want retries past the refusals", later.count())
	}
}

func TestCheckNamespace(t *testing.T) {
	id := spiffeid.RequireFromString("spiffe://example.org/ns/default/sa/web")
	if err := checkNamespace("web-1.default", id); err != nil {
		t.Errorf("same namespace: %v", err)
	}
	err := checkNamespace("x.other", id)
	for _, want := range []string{"namespace default", "--workload x.other names namespace other", "--workload x.default", "token create --namespace other --service-account web --workload x"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("another namespace: error %v, want one with %q", err, want)
		}
	}
}
