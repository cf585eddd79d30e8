package service

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/identity"
)

// DefaultServerCertTTL is the lifetime asked for the control plane's own
// serving certificate (the CA caps it at its MaxSVIDTTL).
const DefaultServerCertTTL = 24 * time.Hour

// ServerTLS is the TLS side of the xDS listener: a serving certificate for
// the control plane's SPIFFE ID, issued by the mesh CA for a key made here
// and renewed at half its life or when another root starts signing. Client
// certificates are asked for but verified per call (PeerSVID), against the
// current bundle, so a root rotation applies without a restart: Attest and
// Bundle need none, and everything else refuses a missing or unverifiable
// one with Unauthenticated.
type ServerTLS struct {
	// source, when set, supplies the serving certificate instead of ca
	// (an SVID from SPIRE).
	source func() (*tls.Certificate, error)

	ca       *identity.CA
	id       spiffeid.ID
	dnsNames []string
	ips      []net.IP
	ttl      time.Duration
	now      func() time.Time
	log      hclog.Logger

	mu     sync.Mutex
	cert   *tls.Certificate
	renew  time.Time
	signer string // fingerprint of the root that signed cert
}

// NewServerTLS issues the first serving certificate, with the control
// plane's SPIFFE ID and SANs for 127.0.0.1, ::1, localhost, listenHost (when
// it names an address or host) and every extra name (IPs or DNS names).
func NewServerTLS(ca *identity.CA, listenHost string, extraNames []string, ttl time.Duration, now func() time.Time, log hclog.Logger) (*ServerTLS, error) {
	if ttl <= 0 {
		ttl = DefaultServerCertTTL
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	s := &ServerTLS{ca: ca, id: dataplane.ControlPlaneID(ca.TrustDomain()), ttl: ttl, now: now, log: log}
	seen := map[string]bool{}
	for _, n := range append([]string{"127.0.0.1", "::1", "localhost", listenHost}, extraNames...) {
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		if ip := net.ParseIP(n); ip != nil {
			if !ip.IsUnspecified() {
				s.ips = append(s.ips, ip)
			}
			continue
		}
		s.dnsNames = append(s.dnsNames, n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.issueLocked(); err != nil {
		return nil, err
	}
	return s, nil
}

// NewSourceServerTLS serves the certificate source returns: the control
// plane's SVID from an external CA, kept current by it.
func NewSourceServerTLS(source func() (*tls.Certificate, error)) *ServerTLS {
	return &ServerTLS{source: source, log: hclog.NewNullLogger()}
}

// issueLocked makes a new key and has the CA sign it.
func (s *ServerTLS) issueLocked() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("the xDS listener's key: %w", err)
	}
	chain, err := s.ca.SignServer(&key.PublicKey, s.id, s.dnsNames, s.ips, s.ttl)
	if err != nil {
		return fmt.Errorf("the xDS listener's certificate: %w", err)
	}
	crt := &tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		crt.Certificate = append(crt.Certificate, c.Raw)
	}
	leaf := chain[0]
	s.cert = crt
	s.renew = leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)
	s.signer = s.activeRoot()
	s.log.Info("xDS serving certificate issued", "spiffe_id", s.id.String(), "serial", serialOf(leaf), "not_after", leaf.NotAfter, "dns", s.dnsNames, "ips", fmt.Sprint(s.ips))
	return nil
}

// activeRoot returns the fingerprint of the root that signs now.
func (s *ServerTLS) activeRoot() string {
	for _, r := range s.ca.Roots() {
		if r.Active {
			return r.Fingerprint
		}
	}
	return ""
}

// Certificate returns the serving certificate, renewing it first when it
// is past half its life or another root has started signing. A failed
// renewal keeps the current certificate while it is valid.
func (s *ServerTLS) Certificate() (*tls.Certificate, error) {
	if s.source != nil {
		return s.source()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if now.Before(s.renew) && s.activeRoot() == s.signer {
		return s.cert, nil
	}
	if err := s.issueLocked(); err != nil {
		if now.Before(s.cert.Leaf.NotAfter) {
			s.log.Error("renewing the xDS serving certificate failed; the current one is kept", "error", err, "not_after", s.cert.Leaf.NotAfter)
			return s.cert, nil
		}
		return nil, err
	}
	return s.cert, nil
}

// Config returns the listener's TLS configuration.
func (s *ServerTLS) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.Certificate()
		},
		// Ask for a certificate but let any through the handshake: every
		// call that needs an identity verifies it as an X.509-SVID against
		// the current bundle (PeerSVID) and answers Unauthenticated when it
		// does not verify. A handshake failure would reach the agent as
		// Unavailable, which it retries as if the control plane were down,
		// instead of a refusal it can act on (attesting again).
		ClientAuth: tls.RequestClientCert,
	}
}
