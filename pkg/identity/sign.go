package identity

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// SignCSR parses csrDER (see ParseCSR) and signs it with SignRequest.
func (c *CA) SignCSR(csrDER []byte, id spiffeid.ID, ttl time.Duration) ([]*x509.Certificate, error) {
	if err := c.checkID(id); err != nil {
		return nil, err
	}
	csr, err := ParseCSR(csrDER)
	if err != nil {
		return nil, err
	}
	return c.SignRequest(csr, id, ttl)
}

// SignRequest checks a CSR from ParseCSR against id (see CheckRequest) and
// signs an X.509-SVID for id with the CSR's key. It returns the leaf
// followed by any intermediates; the roots are in Bundle. ttl is capped at
// the CA's MaxSVIDTTL and at the signing root's expiry.
func (c *CA) SignRequest(csr *x509.CertificateRequest, id spiffeid.ID, ttl time.Duration) ([]*x509.Certificate, error) {
	if err := c.checkID(id); err != nil {
		return nil, err
	}
	if err := CheckRequest(csr, id); err != nil {
		return nil, err
	}
	return c.issue(csr.PublicKey, id, nil, nil, ttl)
}

// SignServer signs a serving certificate for a key the caller holds (the
// control plane's own listener): the SPIFFE ID plus the DNS names and IP
// addresses clients dial.
func (c *CA) SignServer(pub crypto.PublicKey, id spiffeid.ID, dnsNames []string, ips []net.IP, ttl time.Duration) ([]*x509.Certificate, error) {
	if err := c.checkID(id); err != nil {
		return nil, err
	}
	if err := CheckPublicKey(pub); err != nil {
		return nil, err
	}
	return c.issue(pub, id, dnsNames, ips, ttl)
}

// checkID refuses an ID outside the CA's trust domain.
func (c *CA) checkID(id spiffeid.ID) error {
	if id.IsZero() {
		return fmt.Errorf("SPIFFE ID is empty: name the identity to sign for")
	}
	if !id.MemberOf(c.td) {
		return fmt.Errorf("SPIFFE ID %q is not in trust domain %q: this CA signs only its own trust domain", id, c.td)
	}
	return nil
}

// clampTTL refuses a non-positive ttl and caps it at MaxSVIDTTL.
func (c *CA) clampTTL(ttl time.Duration) (time.Duration, error) {
	if ttl <= 0 {
		return 0, fmt.Errorf("SVID lifetime %s is not positive: ask for a lifetime up to %s", ttl, c.cfg.MaxSVIDTTL)
	}
	return min(ttl, c.cfg.MaxSVIDTTL), nil
}

// issue signs a leaf with the active root.
func (c *CA) issue(pub crypto.PublicKey, id spiffeid.ID, dnsNames []string, ips []net.IP, ttl time.Duration) ([]*x509.Certificate, error) {
	ttl, err := c.clampTTL(ttl)
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := c.now()
	r, notAfter, err := c.reserve(now, now.Add(ttl))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		URIs:                  []*url.URL{id.URL()},
		DNSNames:              dnsNames,
		IPAddresses:           ips,
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, r.signer, pub, r.key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate for %q: %w", id, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse signed certificate: %w", err)
	}
	return append([]*x509.Certificate{leaf}, r.chain...), nil
}

// serialLimit is 2^128: serials are random 128-bit numbers.
var serialLimit = new(big.Int).Lsh(big.NewInt(1), 128)

// randomSerial returns a random positive 128-bit serial number.
func randomSerial() (*big.Int, error) {
	for range 8 {
		n, err := rand.Int(rand.Reader, serialLimit)
		if err != nil {
			return nil, fmt.Errorf("random serial: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
	return nil, fmt.Errorf("random serial: the random source returned zero repeatedly")
}
