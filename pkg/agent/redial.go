package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"slices"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/identity/wire"
	"embassy.dev/embassy/pkg/resource"
)

// ControlPlaneConn is a ControlPlane over one connection.
type ControlPlaneConn interface {
	ControlPlane
	Close() error
}

// DialFunc opens a connection to the control plane that verifies it by
// roots and presents cert() in each TLS handshake. The identity client's
// Dial, with the address bound, is one.
type DialFunc func(roots []*x509.Certificate, cert func() *tls.Certificate) (ControlPlaneConn, error)

// redialer is a ControlPlane that opens a new connection whenever the SVID
// or the roots change. TLS presents a client certificate only in the
// handshake, so the connection Attest used carries none, and one opened
// before a rotation keeps presenting the old SVID until that expires.
// Likewise a connection verifies the control plane by the roots it was
// opened with, in every handshake, reconnections included: once the
// control plane serves a certificate of a new root (after a CA rotation),
// only a connection opened with the new roots reaches it. The old
// connection is closed after grace, so calls already on it can finish.
type redialer struct {
	dial    DialFunc
	current func() *Identity
	seed    []*x509.Certificate // the configured trust bundle
	grace   time.Duration
	// withSeed verifies the control plane by the identity's roots and
	// seed together: the SVIDs come from a SPIFFE Workload API (SPIRE's),
	// whose roots vouch for a control plane that takes its SVID from
	// SPIRE too, while seed may still name the control plane's own CA.
	withSeed bool

	mu    sync.Mutex
	conn  ControlPlaneConn
	svid  *x509svid.SVID      // the SVID conn was opened with
	roots []*x509.Certificate // the roots conn was opened with
}

// get returns a connection opened with the current SVID and roots.
func (r *redialer) get() (ControlPlane, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.current()
	roots := r.rootsFor(cur)
	// Without an SVID (before attestation, or expired) any connection
	// with the current roots will do: a new one could present nothing
	// better.
	if r.conn != nil && (cur.SVID == r.svid || cur.SVID == nil) && sameCerts(roots, r.roots) {
		return r.conn, nil
	}
	svid := cur.SVID
	conn, err := r.dial(roots, func() *tls.Certificate {
		if c := (&Identity{SVID: svid}).TLSCertificate(); c != nil {
			return c
		}
		return &tls.Certificate{}
	})
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "connecting to the control plane: %v", err)
	}
	if old := r.conn; old != nil {
		time.AfterFunc(r.grace, func() { old.Close() })
	}
	r.conn, r.svid, r.roots = conn, svid, roots
	return conn, nil
}

// rootsFor returns the roots that verify the control plane for cur.
func (r *redialer) rootsFor(cur *Identity) []*x509.Certificate {
	switch {
	case len(cur.Roots) == 0:
		return r.seed
	case r.withSeed:
		return append(slices.Clip(cur.Roots), r.seed...)
	}
	return cur.Roots
}

// Close closes the current connection.
func (r *redialer) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == nil {
		return nil
	}
	err := r.conn.Close()
	r.conn = nil
	return err
}

func (r *redialer) Attest(ctx context.Context, req *wire.AttestRequest) (*wire.SVIDResponse, error) {
	c, err := r.get()
	if err != nil {
		return nil, err
	}
	return c.Attest(ctx, req)
}

func (r *redialer) Renew(ctx context.Context, csr []byte) (*wire.SVIDResponse, error) {
	c, err := r.get()
	if err != nil {
		return nil, err
	}
	return c.Renew(ctx, csr)
}

func (r *redialer) Register(ctx context.Context, name string, spec resource.WorkloadSpec) (*wire.RegisterResponse, error) {
	c, err := r.get()
	if err != nil {
		return nil, err
	}
	return c.Register(ctx, name, spec)
}

func (r *redialer) Deregister(ctx context.Context, name string) error {
	c, err := r.get()
	if err != nil {
		return err
	}
	return c.Deregister(ctx, name)
}

func (r *redialer) MintJWT(ctx context.Context, audience []string) (*wire.JWTResponse, error) {
	c, err := r.get()
	if err != nil {
		return nil, err
	}
	return c.MintJWT(ctx, audience)
}

func (r *redialer) Bundle(ctx context.Context) (*wire.BundleResponse, error) {
	c, err := r.get()
	if err != nil {
		return nil, err
	}
	return c.Bundle(ctx)
}

func (r *redialer) ReportAuthz(ctx context.Context, report *wire.AuthzReport) error {
	c, err := r.get()
	if err != nil {
		return err
	}
	return c.ReportAuthz(ctx, report)
}
