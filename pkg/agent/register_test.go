package agent

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
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
