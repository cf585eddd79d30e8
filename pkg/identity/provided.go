package identity

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"

	"embassy.dev/embassy/pkg/spiffe"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// loadProvided reads a provided CA: CertFile holds the CA cert, optionally
// followed by its chain up to a self-signed root; KeyFile holds its key.
func loadProvided(cfg CAConfig, td spiffeid.TrustDomain, now time.Time) (*root, error) {
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		return nil, fmt.Errorf("a provided CA needs both certFile and keyFile")
	}
	certPEM, err := os.ReadFile(cfg.CertFile)
	if err != nil {
		return nil, fmt.Errorf("provided CA cert: %w", err)
	}
	certs, err := spiffe.ParseCertsPEM(certPEM)
	if err == nil && len(certs) == 0 {
		err = fmt.Errorf("no PEM CERTIFICATE block found")
	}
	if err != nil {
		return nil, fmt.Errorf("provided CA cert %s: %w", cfg.CertFile, err)
	}
	keyPEM, err := os.ReadFile(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("provided CA key: %w", err)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("provided CA key %s: %w", cfg.KeyFile, err)
	}
	ca := certs[0]
	if !ca.BasicConstraintsValid || !ca.IsCA {
		return nil, fmt.Errorf("provided cert %q is not a CA (BasicConstraints CA=false): issue it as a CA", ca.Subject)
	}
	if ca.KeyUsage != 0 && ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("provided CA %q lacks the certSign key usage: reissue it with keyCertSign", ca.Subject)
	}
	if !publicKeysEqual(key.Public(), ca.PublicKey) {
		return nil, fmt.Errorf("provided key %s does not match the CA cert %q in %s: pair the cert with its own key", cfg.KeyFile, ca.Subject, cfg.CertFile)
	}
	for _, u := range ca.URIs {
		if id, err := spiffeid.FromURI(u); err == nil && id.TrustDomain() != td {
			return nil, fmt.Errorf("provided CA %q names trust domain %q, the mesh uses %q: use a CA of this trust domain", ca.Subject, id.TrustDomain(), td)
		}
	}
	expires := ca.NotAfter
	for i, c := range certs {
		if c.NotAfter.Before(expires) {
			expires = c.NotAfter
		}
		if !now.Before(c.NotAfter) {
			return nil, fmt.Errorf("provided certificate %q expired at %s: renew it", c.Subject, c.NotAfter.UTC().Format(time.RFC3339))
		}
		if i+1 < len(certs) {
			if err := c.CheckSignatureFrom(certs[i+1]); err != nil {
				return nil, fmt.Errorf("provided chain is broken: %q is not signed by the next cert %q (%v); list the certs leaf-most first", c.Subject, certs[i+1].Subject, err)
			}
		}
	}
	last := certs[len(certs)-1]
	if !bytes.Equal(last.RawSubject, last.RawIssuer) || last.CheckSignatureFrom(last) != nil {
		return nil, fmt.Errorf("provided chain ends at %q, which is not a self-signed root: append the certs up to the root to %s", last.Subject, cfg.CertFile)
	}
	return &root{
		cert:    last,
		signer:  ca,
		key:     key,
		chain:   certs[:len(certs)-1],
		expires: expires,
	}, nil
}

// parseKeyPEM reads the first private key block: PKCS#8, SEC 1 EC or
// PKCS#1 RSA. Encrypted keys are refused.
func parseKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("no PEM private key block found (want PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)")
		}
		if _, legacy := block.Headers["Proc-Type"]; legacy {
			return nil, fmt.Errorf("the key is encrypted: decrypt it into a file only embassy-cp can read")
		}
		var k any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("the key is encrypted: decrypt it into a file only embassy-cp can read")
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", block.Type, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("key type %T cannot sign", k)
		}
		return s, nil
	}
}
