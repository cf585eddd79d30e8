package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"embassy.dev/embassy/pkg/store"
)

// caState is what SecretRoots holds.
type caState struct {
	Version     int          `json:"version"`
	TrustDomain string       `json:"trustDomain"`
	Roots       []*rootState `json:"roots"`
}

// rootState is one builtin root as stored.
type rootState struct {
	Cert   []byte `json:"cert"`   // DER
	Key    []byte `json:"key"`    // PKCS#8
	JWTKey []byte `json:"jwtKey"` // PKCS#8, ECDSA P-256
	// SignsFrom is when the root starts signing (its publication time plus
	// the publish delay; the first root signs at once).
	SignsFrom time.Time `json:"signsFrom"`
	// IssuedUntil is at or after the latest expiry of anything the root
	// signed. It is raised and stored before signing, so a restart never
	// forgets an SVID that is still valid.
	IssuedUntil time.Time `json:"issuedUntil,omitzero"`
}

const caStateVersion = 1

// loadOrCreateBuiltin loads SecretRoots, or makes and stores a first
// root. Control planes starting together on an empty store each make one,
// and only the first stored is kept: the others load it.
func (c *CA) loadOrCreateBuiltin() error {
	err := c.syncLocked(c.now())
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	now := c.now()
	st, err := newRootState(c.td, now, c.cfg.RootTTL)
	if err != nil {
		return err
	}
	st.SignsFrom = now
	r, err := parseRoot(st)
	if err != nil {
		return err
	}
	c.roots = []*root{r}
	err = c.storeLocked()
	if errors.Is(err, store.ErrSecretChanged) {
		return c.syncLocked(now)
	}
	return err
}

// newRootState makes a self-signed ECDSA P-256 root and its JWT key.
func newRootState(td spiffeid.TrustDomain, now time.Time, ttl time.Duration) (*rootState, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate root key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{"Embassy"},
			CommonName:   "Embassy root CA " + now.UTC().Format("20060102T150405Z"),
		},
		URIs:                  []*url.URL{td.ID().URL()},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(ttl),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("self-sign root: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode root key: %w", err)
	}
	jwtDER, err := newJWTKeyDER()
	if err != nil {
		return nil, err
	}
	return &rootState{Cert: der, Key: keyDER, JWTKey: jwtDER}, nil
}

// parseRoot turns a stored root into a signing authority.
func parseRoot(st *rootState) (*root, error) {
	cert, err := x509.ParseCertificate(st.Cert)
	if err != nil {
		return nil, fmt.Errorf("parse root certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("root %q is not a CA certificate", cert.Subject)
	}
	k, err := x509.ParsePKCS8PrivateKey(st.Key)
	if err != nil {
		return nil, fmt.Errorf("parse root key: %w", err)
	}
	key, ok := k.(crypto.Signer)
	if !ok || !publicKeysEqual(key.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("root key does not match root %q", cert.Subject)
	}
	jk, err := parseJWTKey(st.JWTKey)
	if err != nil {
		return nil, err
	}
	return &root{cert: cert, signer: cert, key: key, expires: cert.NotAfter, jwt: jk, st: st}, nil
}

// publicKeysEqual reports whether a and b are the same public key.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}
