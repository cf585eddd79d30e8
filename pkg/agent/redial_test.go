package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"sync"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/identity/wire"
	"embassy.dev/embassy/pkg/resource"
)

// certConn is one fake connection: it records the certificate its
// handshake would present with each Register.
type certConn struct {
	*fakeCP
	cert   func() *tls.Certificate
	closed chan struct{}
	seen   *sync.Map // serial presented → true
}

func (c *certConn) Register(ctx context.Context, name string, spec resource.WorkloadSpec) (*wire.RegisterResponse, error) {
	if crt := c.cert(); crt.Leaf != nil {
		c.seen.Store(crt.Leaf.SerialNumber.String(), true)
	}
	return c.fakeCP.Register(ctx, name, spec)
}

func (c *certConn) Close() error { close(c.closed); return nil }

// The agent opens a connection presenting no certificate for Attest, a new
// one with the SVID after attesting, and another after each rotation, and
// closes the ones it replaced.
func TestRedialsWithEachSVID(t *testing.T) {
	cp := newFakeCP(t, 2*time.Second)
	var (
		mu    sync.Mutex
		conns []*certConn
		seen  sync.Map
	)
	ta := startAgent(t, cp, func(c *Config) {
		c.ControlPlane = nil
		c.TrustBundle = []*x509.Certificate{cp.ca.root}
		c.Dial = func(roots []*x509.Certificate, cert func() *tls.Certificate) (ControlPlaneConn, error) {
			if len(roots) != 1 || !roots[0].Equal(cp.ca.root) {
				t.Errorf("dialled with roots %v", roots)
			}
			conn := &certConn{fakeCP: cp, cert: cert, closed: make(chan struct{}), seen: &seen}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			return conn, nil
		}
		c.CallTimeout = 50 * time.Millisecond // the grace before closing a replaced connection
	})
	first := ta.Manager().Current()
	rotated := waitIdentity(t, ta.Manager(), 5*time.Second, "rotation", func(id *Identity) bool { return id.SVID != nil && id.SVID != first.SVID })
	for _, want := range []*Identity{first, rotated} {
		serial := leafOf(want).SerialNumber.String()
		deadline := time.After(5 * time.Second)
		for _, ok := seen.Load(serial); !ok; _, ok = seen.Load(serial) {
			select {
			case <-cp.registered:
			case <-deadline:
				t.Fatalf("no Register presented SVID serial %s", serial)
			}
		}
	}
	mu.Lock()
	attestConn := conns[0]
	mu.Unlock()
	if c := attestConn.cert(); len(c.Certificate) != 0 {
		t.Fatal("the connection used to attest presents a certificate")
	}
	select {
	case <-attestConn.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection used to attest was never closed")
	}
}

// After a CA rotation the control plane serves a certificate of the new
// root, which a connection opened with the old roots rejects in every
// handshake: the redialer opens a new connection as soon as the roots
// change, with the new roots, and closes the old one.
func TestRedialsWhenRootsChange(t *testing.T) {
	cp := newFakeCP(t, time.Hour)
	cur := cp.ca.issue(t, testID, time.Hour)
	svid := cur.SVID
	next := newTestCA(t).root
	var dialled [][]*x509.Certificate
	r := &redialer{
		seed:    []*x509.Certificate{cp.ca.root},
		current: func() *Identity { return cur },
		dial: func(roots []*x509.Certificate, cert func() *tls.Certificate) (ControlPlaneConn, error) {
			dialled = append(dialled, roots)
			return &certConn{fakeCP: cp, cert: cert, closed: make(chan struct{}), seen: &sync.Map{}}, nil
		},
	}
	get := func() *certConn {
		t.Helper()
		c, err := r.get()
		if err != nil {
			t.Fatal(err)
		}
		return c.(*certConn)
	}
	first := get()
	if again := get(); again != first {
		t.Fatal("redialled without a change")
	}
	for n, rotated := range []*Identity{
		{ID: testID, SVID: svid, Roots: []*x509.Certificate{cp.ca.root, next}}, // the new root is announced
		{ID: testID, SVID: svid, Roots: []*x509.Certificate{next}},             // the old one is retired
		{ID: testID, Roots: []*x509.Certificate{cp.ca.root}},                   // and the SVID has expired
	} {
		old := r.conn.(*certConn)
		cur = rotated
		c := get()
		if c == old {
			t.Fatalf("rotation %d: get returned the connection opened with the old roots", n)
		}
		if got := dialled[len(dialled)-1]; !sameCerts(got, rotated.Roots) {
			t.Fatalf("rotation %d: dialled with %d roots, want the identity's %d", n, len(got), len(rotated.Roots))
		}
		if again := get(); again != c {
			t.Fatalf("rotation %d: redialled again without a change", n)
		}
		select {
		case <-old.closed:
		case <-time.After(5 * time.Second):
			t.Fatalf("rotation %d: the connection with the old roots was never closed", n)
		}
	}
	if len(dialled) != 4 {
		t.Fatalf("dialled %d times, want 4", len(dialled))
	}
}
