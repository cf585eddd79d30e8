// Package workloadapitest serves the SPIFFE Workload API of one identity
// on a unix socket, with SVIDs from a throwaway CA of its own: a stand-in
// for a SPIRE agent in tests of the SPIRE-backed mesh. Its roots are not
// embassy-cp's, so whatever trusts them can be traced to it. The server is
// embassy-agent's own Workload API implementation; clients must send the
// workload.spiffe.io header, as SPIRE requires.
package workloadapitest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"embassy.dev/embassy/pkg/agent"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/identity/wire"
	"embassy.dev/embassy/pkg/store"
)

// Authority is the throwaway CA.
type Authority struct {
	ca *identity.CA
}

// NewAuthority makes a CA for the trust domain td.
func NewAuthority(td string) (*Authority, error) {
	ca, err := identity.LoadOrCreateCA(store.NewMemory(), identity.CAConfig{Type: identity.CATypeBuiltin, TrustDomain: td}, nil)
	if err != nil {
		return nil, err
	}
	return &Authority{ca: ca}, nil
}

// Roots returns the authority's roots (its trust bundle).
func (a *Authority) Roots() []*x509.Certificate { return a.ca.Bundle() }

// Issue signs an SVID for a new key, with the DNS names given.
func (a *Authority) Issue(id spiffeid.ID, dnsNames []string, ttl time.Duration) (*x509svid.SVID, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	chain, err := a.ca.SignServer(&key.PublicKey, id, dnsNames, nil, ttl)
	if err != nil {
		return nil, err
	}
	return &x509svid.SVID{ID: id, Certificates: chain, PrivateKey: key}, nil
}

// Server serves one identity's Workload API.
type Server struct {
	a        *Authority
	id       spiffeid.ID
	dnsNames []string
	ttl      time.Duration
	g        *grpc.Server
	path     string

	mu      sync.Mutex
	cur     *agent.Identity
	changed chan struct{}
}

// Serve listens on the unix socket path and serves id's SVIDs, each valid
// for ttl with dnsNames as DNS SANs, starting with a fresh one.
func (a *Authority) Serve(path string, id spiffeid.ID, dnsNames []string, ttl time.Duration) (*Server, error) {
	s := &Server{a: a, id: id, dnsNames: dnsNames, ttl: ttl, path: path, changed: make(chan struct{})}
	if _, err := s.Rotate(); err != nil {
		return nil, err
	}
	_ = os.Remove(path)
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("the stand-in Workload API socket: %w", err)
	}
	s.g = grpc.NewServer()
	agent.NewWorkloadAPI(s, s, nil).Register(s.g)
	go func() { _ = s.g.Serve(lis) }()
	return s, nil
}

// Watch implements agent.IdentityWatcher.
func (s *Server) Watch() (*agent.Identity, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur, s.changed
}

// MintJWT implements agent.JWTMinter: a JWT-SVID of the served identity.
func (s *Server) MintJWT(_ context.Context, audience []string) (*wire.JWTResponse, error) {
	tok, exp, err := s.a.ca.MintJWT(s.id, audience, 5*time.Minute)
	if err != nil {
		return nil, err
	}
	return &wire.JWTResponse{Token: tok, ExpiresAt: timestamppb.New(exp)}, nil
}

// JWKS returns the authority's JWT keys.
func (a *Authority) JWKS() ([]byte, error) { return a.ca.JWKS() }

// Rotate issues a new SVID and pushes it to the watchers.
func (s *Server) Rotate() (*x509svid.SVID, error) {
	svid, err := s.a.Issue(s.id, s.dnsNames, s.ttl)
	if err != nil {
		return nil, err
	}
	jwks, err := s.a.ca.JWKS()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	gen := uint64(1)
	if s.cur != nil {
		gen = s.cur.Generation + 1
	}
	s.cur = &agent.Identity{ID: s.id, SVID: svid, Roots: s.a.Roots(), JWKS: jwks, Generation: gen}
	close(s.changed)
	s.changed = make(chan struct{})
	return svid, nil
}

// Path is the socket's path.
func (s *Server) Path() string { return s.path }

// Current returns the SVID served now.
func (s *Server) Current() *x509svid.SVID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur.SVID
}

// Close stops serving and removes the socket.
func (s *Server) Close() {
	s.g.Stop()
	_ = os.Remove(s.path)
}
