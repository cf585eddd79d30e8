package agent

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"embassy.dev/embassy/pkg/identity/wire"
)

// Identity is what the agent serves at one moment: the SVID with its key,
// and the trust domain's bundle. It is immutable once published, so a
// reader that holds one never pairs a certificate with another key.
type Identity struct {
	// ID is the workload's SPIFFE ID; it stays set after the SVID expires.
	ID spiffeid.ID
	// SVID is the current X.509-SVID and its private key, or nil when it
	// has expired and no renewal succeeded: nothing is served then.
	SVID *x509svid.SVID
	// Roots are the trust domain's X.509 roots.
	Roots []*x509.Certificate
	// JWKS is the trust domain's JWT signing keys as a JSON Web Key Set,
	// or nil before the first Bundle call answered.
	JWKS []byte
	// Generation counts publications, starting at 1.
	Generation uint64
}

// X509Bundle returns the roots as a go-spiffe bundle of the trust domain.
func (i *Identity) X509Bundle() *x509bundle.Bundle {
	return x509bundle.FromX509Authorities(i.ID.TrustDomain(), i.Roots)
}

// JWTBundle returns the JWT keys as a go-spiffe bundle; it is empty (not
// nil) before the control plane sent any keys.
func (i *Identity) JWTBundle() (*jwtbundle.Bundle, error) {
	if len(i.JWKS) == 0 {
		return jwtbundle.New(i.ID.TrustDomain()), nil
	}
	return jwtbundle.Parse(i.ID.TrustDomain(), i.JWKS)
}

// JWKSOrEmpty returns JWKS, or an empty key set before there is one.
func (i *Identity) JWKSOrEmpty() []byte {
	if len(i.JWKS) == 0 {
		return []byte(`{"keys":[]}`)
	}
	return i.JWKS
}

// ChainPEM is the SVID's chain, leaf first, as PEM.
func (i *Identity) ChainPEM() []byte { return certsPEM(i.SVID.Certificates) }

// BundlePEM is the roots as PEM.
func (i *Identity) BundlePEM() []byte { return certsPEM(i.Roots) }

// KeyPEM is the SVID's private key as PKCS #8 PEM. It goes only to local
// consumers: the key file, the SDS socket and the Workload API socket.
func (i *Identity) KeyPEM() ([]byte, error) {
	der, err := marshalKey(i)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// marshalKey is the SVID's key as PKCS #8 DER.
func marshalKey(i *Identity) ([]byte, error) { return x509.MarshalPKCS8PrivateKey(i.SVID.PrivateKey) }

// TLSCertificate is the SVID as a tls.Certificate, or nil without one.
func (i *Identity) TLSCertificate() *tls.Certificate {
	if i == nil || i.SVID == nil {
		return nil
	}
	c := &tls.Certificate{PrivateKey: i.SVID.PrivateKey, Leaf: i.SVID.Certificates[0]}
	for _, cert := range i.SVID.Certificates {
		c.Certificate = append(c.Certificate, cert.Raw)
	}
	return c
}

func certsPEM(certs []*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

func certsDER(certs []*x509.Certificate) []byte {
	var b []byte
	for _, c := range certs {
		b = append(b, c.Raw...)
	}
	return b
}

// parseSVIDResponse checks what the control plane signed for key: a
// chain whose leaf is an X.509-SVID for resp.SpiffeId, certifies key's
// public key, and verifies against the bundle sent with it. It returns the
// SVID and the roots.
func parseSVIDResponse(resp *wire.SVIDResponse, key crypto.Signer) (*x509svid.SVID, []*x509.Certificate, error) {
	if resp == nil {
		return nil, nil, errors.New("empty SVID response")
	}
	if len(resp.Chain) == 0 {
		return nil, nil, errors.New("SVID response has no certificate chain")
	}
	id, err := spiffeid.FromString(resp.SpiffeId)
	if err != nil {
		return nil, nil, fmt.Errorf("SVID response: SPIFFE ID %q: %w", resp.SpiffeId, err)
	}
	chain, err := parseDERList("chain", resp.Chain)
	if err != nil {
		return nil, nil, err
	}
	roots, err := parseDERList("bundle", resp.Bundle)
	if err != nil {
		return nil, nil, err
	}
	if len(roots) == 0 {
		return nil, nil, errors.New("SVID response has an empty bundle")
	}
	got, _, err := x509svid.Verify(chain, x509bundle.FromX509Authorities(id.TrustDomain(), roots))
	if err != nil {
		return nil, nil, fmt.Errorf("SVID response: %w", err)
	}
	if got != id {
		return nil, nil, fmt.Errorf("SVID response: certificate is for %s, response says %s", got, id)
	}
	if !publicKeyEqual(chain[0].PublicKey, key.Public()) {
		return nil, nil, errors.New("SVID response: the certificate is not for the key the agent sent")
	}
	return &x509svid.SVID{ID: id, Certificates: chain, PrivateKey: key}, roots, nil
}

func parseDERList(what string, ders [][]byte) ([]*x509.Certificate, error) {
	certs := make([]*x509.Certificate, 0, len(ders))
	for n, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("SVID response: %s certificate %d: %w", what, n, err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// sameCerts reports whether two certificate lists are byte for byte equal.
func sameCerts(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for n := range a {
		if !a[n].Equal(b[n]) {
			return false
		}
	}
	return true
}

// parseBundleResponse checks a Bundle answer: roots that parse, for the
// agent's trust domain, and a JWKS that go-spiffe can read.
func parseBundleResponse(resp *wire.BundleResponse, td spiffeid.TrustDomain) ([]*x509.Certificate, []byte, error) {
	if resp == nil {
		return nil, nil, errors.New("empty bundle response")
	}
	if resp.TrustDomain != "" && !td.IsZero() && resp.TrustDomain != td.Name() && resp.TrustDomain != td.IDString() {
		return nil, nil, fmt.Errorf("bundle is for trust domain %q, not %q", resp.TrustDomain, td.Name())
	}
	roots, err := parseDERList("bundle", resp.X509Roots)
	if err != nil {
		return nil, nil, err
	}
	if len(roots) == 0 {
		return nil, nil, errors.New("bundle has no X.509 roots")
	}
	var jwks []byte
	if len(resp.Jwks) > 0 && string(resp.Jwks) != "null" {
		if _, err := jwtbundle.Parse(td, resp.Jwks); err != nil {
			return nil, nil, err
		}
		jwks = append([]byte(nil), resp.Jwks...)
	}
	return roots, jwks, nil
}
