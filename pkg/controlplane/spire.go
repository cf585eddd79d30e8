package controlplane

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/spiffewatch"
)

// CATypeSPIRE is the Mesh's spec.ca.type for SVIDs from SPIRE.
const CATypeSPIRE = "spire"

// DefaultSPIRETimeout is how long Start waits for the SPIRE agent's first
// answer.
const DefaultSPIRETimeout = 30 * time.Second

// With a Mesh of ca.type spire, SPIRE is the mesh's CA: agents take their
// SVIDs from their node's SPIRE agent, and so does embassy-cp, whose
// serving certificate is the SVID SPIRE issues it for the control plane's
// SPIFFE ID. Client certificates verify against SPIRE's bundle for the
// mesh's trust domain alone: the builtin CA signs nothing more, and its
// roots are not trusted (its key is still in the store). JWT-SVIDs and
// their keys come from SPIRE as well.

// spireSource follows a SPIFFE Workload API (a SPIRE agent's) for the
// control plane's own SVID and its trust domain's X.509 bundle. It is
// safe for concurrent use.
type spireSource struct {
	socket string
	td     spiffeid.TrustDomain
	want   spiffeid.ID
	log    hclog.Logger
	watch  *spiffewatch.Watcher
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once

	mu      sync.RWMutex
	cert    *tls.Certificate
	roots   []*x509.Certificate
	jwt     *jwtbundle.Bundle // nil until SPIRE sends the trust domain's
	serial  string
	lastErr error
	first   chan struct{} // closed on the first usable update
}

// startSPIRE connects to the Workload API at socket and waits, at most
// timeout and while ctx lasts, for an SVID with the control plane's
// SPIFFE ID in td and a bundle for td. It then follows it until close.
func startSPIRE(ctx context.Context, socket string, td spiffeid.TrustDomain, timeout time.Duration, log hclog.Logger) (*spireSource, error) {
	if timeout <= 0 {
		timeout = DefaultSPIRETimeout
	}
	w, err := spiffewatch.Start(socket, log)
	if err != nil {
		return nil, fmt.Errorf("the SPIRE agent: %w", err)
	}
	s := &spireSource{socket: socket, td: td, want: dataplane.ControlPlaneID(td), log: log, watch: w,
		stop: make(chan struct{}), done: make(chan struct{}), first: make(chan struct{})}
	go s.follow()
	wait := time.NewTimer(timeout)
	defer wait.Stop()
	select {
	case <-s.first:
		return s, nil
	case <-wait.C:
	case <-ctx.Done():
	}
	s.mu.RLock()
	why := s.lastErr
	s.mu.RUnlock()
	s.close()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("stopped while waiting for the SPIRE agent at %s: %w", socket, ctx.Err())
	}
	if why == nil {
		why = errors.New("no answer")
	}
	return nil, fmt.Errorf("no usable SVID from the SPIRE agent at %s within %s: %v (the Mesh's spec.ca.type is spire: run a SPIRE agent there and register embassy-cp as %s, with DNS names for the address proxies dial)",
		socket, timeout, why, s.want)
}

// follow takes each change of the Workload API's state until close.
func (s *spireSource) follow() {
	defer close(s.done)
	var last spiffewatch.State
	for {
		st, changed := s.watch.Watch()
		if st.X509 != nil && st.X509 != last.X509 {
			s.takeX509(st.X509)
		}
		if st.X509Failures != last.X509Failures {
			s.fail(fmt.Errorf("watching the Workload API: %w", st.X509Err))
		}
		if st.JWTBundles != nil && st.JWTBundles != last.JWTBundles {
			s.takeJWT(st.JWTBundles)
		}
		if st.JWTFailures != last.JWTFailures {
			s.log.Warn("watching SPIRE's JWT bundles failed; retrying", "socket", s.socket, "error", st.JWTErr)
		}
		last = st
		select {
		case <-s.stop:
			return
		case <-changed:
		}
	}
}

// close stops following; it may be called more than once.
func (s *spireSource) close() {
	s.closed.Do(func() {
		close(s.stop)
		<-s.done
		s.watch.Close()
	})
}

// takeX509 takes the control plane's SVID and the bundle of its trust
// domain; an update lacking either keeps the previous ones.
func (s *spireSource) takeX509(xc *workloadapi.X509Context) {
	var svid *x509svid.SVID
	var ids []string
	for _, sv := range xc.SVIDs {
		ids = append(ids, sv.ID.String())
		if sv.ID == s.want {
			svid = sv
		}
	}
	if svid == nil {
		s.fail(fmt.Errorf("the SPIRE agent issues this process %s but not %s: register embassy-cp in SPIRE with that SPIFFE ID",
			orNone(ids), s.want))
		return
	}
	b, err := xc.Bundles.GetX509BundleForTrustDomain(s.td)
	if err != nil || len(b.X509Authorities()) == 0 {
		var tds []string
		for _, b := range xc.Bundles.Bundles() {
			tds = append(tds, b.TrustDomain().Name())
		}
		s.fail(fmt.Errorf("the SPIRE agent has bundles for %s but none for the mesh's trust domain %s: SPIRE's trust domain must be the mesh's", orNone(tds), s.td))
		return
	}
	cert := &tls.Certificate{PrivateKey: svid.PrivateKey, Leaf: svid.Certificates[0]}
	for _, c := range svid.Certificates {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	serial := fmt.Sprintf("%x", svid.Certificates[0].SerialNumber)
	s.mu.Lock()
	changed := serial != s.serial
	s.cert, s.roots, s.serial, s.lastErr = cert, b.X509Authorities(), serial, nil
	s.mu.Unlock()
	if changed {
		s.log.Info("took the control plane's SVID from SPIRE", "socket", s.socket, "spiffe_id", s.want.String(),
			"serial", serial, "not_after", svid.Certificates[0].NotAfter, "roots", len(b.X509Authorities()))
	}
	select {
	case <-s.first:
	default:
		close(s.first)
	}
}

// takeJWT takes the JWT keys of the trust domain.
func (s *spireSource) takeJWT(set *jwtbundle.Set) {
	b, ok := set.Get(s.td)
	if !ok {
		s.log.Warn("SPIRE's JWT bundles have none for the mesh's trust domain", "trust_domain", s.td.Name())
		return
	}
	s.mu.Lock()
	s.jwt = b
	s.mu.Unlock()
}

// jwks returns SPIRE's JWT keys for the trust domain as a JWKS.
func (s *spireSource) jwks() ([]byte, error) {
	s.mu.RLock()
	b := s.jwt
	s.mu.RUnlock()
	if b == nil {
		return nil, fmt.Errorf("the SPIRE agent at %s has sent no JWT bundle for %s yet", s.socket, s.td.Name())
	}
	return b.Marshal()
}

// fail records err as the last problem and logs it.
func (s *spireSource) fail(err error) {
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
	s.log.Error("SPIRE gave no usable update; the previous SVID and bundle are kept", "socket", s.socket, "error", err)
}

// certificate is the control plane's current SVID as a TLS certificate.
func (s *spireSource) certificate() (*tls.Certificate, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.cert == nil {
		return nil, errors.New("no SVID from SPIRE yet")
	}
	return s.cert, nil
}

// healthy reports whether the control plane still holds a valid SVID from
// SPIRE at now; once it has expired, no proxy can connect, and readiness
// says so with SPIRE's last error.
func (s *spireSource) healthy(now time.Time) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.cert == nil || !now.Before(s.cert.Leaf.NotAfter) {
		why := "no answer"
		if s.lastErr != nil {
			why = s.lastErr.Error()
		}
		return fmt.Errorf("the control plane's SVID from the SPIRE agent at %s has expired and SPIRE has not renewed it: %s", s.socket, why)
	}
	return nil
}

// bundle returns SPIRE's current roots for the trust domain.
func (s *spireSource) bundle() []*x509.Certificate {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.roots)
}

// rootInfos describes SPIRE's roots for the status API; SPIRE rotates
// them itself, so each is simply trusted.
func (s *spireSource) rootInfos() []identity.RootInfo {
	roots := s.bundle()
	out := make([]identity.RootInfo, 0, len(roots))
	for _, r := range roots {
		ri := identity.DescribeRoot(r)
		ri.Source = CATypeSPIRE
		out = append(out, ri)
	}
	return out
}

// noteCAChange warns, once per Mesh CA type, when the stored Mesh names a
// CA the running control plane does not use: the CA is chosen at start.
// --spire-socket wins over the Mesh, as its help says, so with it there is
// nothing to warn about. publishMu is held.
func (c *ControlPlane) noteCAChange(snap *mesh.Snapshot) {
	if c.ca == nil || c.cfg.InsecureXDS || c.cfg.SPIRESocket != "" {
		return
	}
	want := ""
	if ca := snap.Mesh.CA; ca != nil {
		want = ca.Type
	}
	if (want == CATypeSPIRE) == (c.spire != nil) {
		c.caWarned = ""
		return
	}
	if want == c.caWarned {
		return
	}
	c.caWarned = want
	if c.spire != nil {
		c.log.Warn("the Mesh's spec.ca.type is no longer spire, but this embassy-cp takes SVIDs from SPIRE until it restarts", "ca_type", cmp.Or(want, identity.CATypeBuiltin))
		return
	}
	c.log.Warn("the Mesh's spec.ca.type is spire, but this embassy-cp uses its own CA until it restarts", "socket", snap.Mesh.CA.SocketPath)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

// spireBacked is the mesh CA as the identity service and the API see it
// when SPIRE issues the SVIDs: the X.509 and JWT bundles are SPIRE's,
// while the trust domain stays the builtin CA's (they are the same).
type spireBacked struct {
	*identity.CA
	spire *spireSource
}

// Bundle returns SPIRE's roots: what workloads and the control plane's
// certificate chain to.
func (b spireBacked) Bundle() []*x509.Certificate { return b.spire.bundle() }

// Roots describes SPIRE's roots.
func (b spireBacked) Roots() []identity.RootInfo { return b.spire.rootInfos() }

// JWKS returns SPIRE's JWT keys: JWT-SVIDs come from SPIRE too.
func (b spireBacked) JWKS() ([]byte, error) { return b.spire.jwks() }

// GetX509BundleForTrustDomain implements x509bundle.Source with SPIRE's
// roots: client certificates verify against them alone.
func (s *spireSource) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	if td != s.td {
		return nil, fmt.Errorf("trust domain %s is not this mesh's (%s)", td, s.td)
	}
	return x509bundle.FromX509Authorities(td, s.bundle()), nil
}
