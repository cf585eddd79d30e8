package agent

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/internal/syncbuf"
	"embassy.dev/embassy/pkg/identity/wire"
	"embassy.dev/embassy/pkg/resource"
)

// publisher is an IdentityWatcher the test publishes to.
type publisher struct {
	mu      sync.Mutex
	cur     *Identity
	changed chan struct{}
}

func (p *publisher) Watch() (*Identity, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur, p.changed
}

func (p *publisher) publish(id *Identity) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur = id
	close(p.changed)
	p.changed = make(chan struct{})
}

// A new SVID registers at once rather than at the next interval, so the
// control plane sees the certificate of a rotation it did not sign; a new
// bundle alone does not.
func TestRegistrarRegistersANewSVIDAtOnce(t *testing.T) {
	cp := newFakeCP(t, time.Hour)
	first := &x509svid.SVID{ID: testID}
	pub := &publisher{cur: &Identity{ID: testID, SVID: first}, changed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		(&Registrar{ControlPlane: cp, Name: "web-1", Interval: time.Hour, Identities: pub}).Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	waitRegistered := func(what string) {
		t.Helper()
		select {
		case <-cp.registered:
		case <-time.After(10 * time.Second):
			t.Fatalf("no registration %s", what)
		}
	}
	waitRegistered("at start")

	pub.publish(&Identity{ID: testID, SVID: first, Roots: nil, Generation: 2})
	select {
	case <-cp.registered:
		t.Fatal("a publication without a new SVID registered again")
	case <-time.After(200 * time.Millisecond):
	}
	pub.publish(&Identity{ID: testID, SVID: &x509svid.SVID{ID: testID}, Generation: 3})
	waitRegistered("after a new SVID, long before the hour's interval")
}

// operatorApplied is a control plane that holds the agent's Workload as
// applied by an operator, refusing its registration as embassy-cp does.
type operatorApplied struct {
	*fakeCP
	registers, deregisters atomic.Int32
}

func (o *operatorApplied) Register(context.Context, string, resource.WorkloadSpec) (*wire.RegisterResponse, error) {
	o.registers.Add(1)
	return nil, status.Error(codes.FailedPrecondition, "Workload/default/echo-v1 was applied by an operator, not registered by an agent")
}

func (o *operatorApplied) Deregister(context.Context, string) error {
	o.deregisters.Add(1)
	return status.Error(codes.FailedPrecondition, "applied by an operator")
}

// An agent whose --workload names a Workload an operator applied asks
// once, says so once without a warning, and neither retries every
// interval nor deregisters it at the end.
func TestRegistrarStopsWhenTheWorkloadIsAnOperators(t *testing.T) {
	cp := &operatorApplied{fakeCP: newFakeCP(t, time.Hour)}
	var logs syncbuf.Buffer
	logger := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- (&Registrar{ControlPlane: cp, Name: "echo-v1", Interval: 10 * time.Millisecond, Logger: logger}).Run(ctx)
	}()
	time.Sleep(300 * time.Millisecond) // thirty intervals
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not end with its context")
	}
	if n := cp.registers.Load(); n != 1 {
		t.Errorf("%d registrations, want the one the control plane refused", n)
	}
	if n := cp.deregisters.Load(); n != 0 {
		t.Errorf("%d deregistrations of a Workload the agent never held", n)
	}
	if out := logs.String(); strings.Contains(out, "[WARN]") || strings.Count(out, "stops registering") != 1 {
		t.Errorf("want one INFO line and no warning:\n%s", out)
	}
}
