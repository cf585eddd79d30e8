package spiffe

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
)

// NewKeyAndCSR makes a fresh P-256 key and a CSR (DER) for it, on the node
// that will hold the key. The CSR carries no names: the node learns its
// identity from the SVID, and the CA puts in the SPIFFE ID that the join
// token (or the current SVID) proves.
func NewKeyAndCSR() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("making a key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("making a CSR: %w", err)
	}
	return key, csr, nil
}
