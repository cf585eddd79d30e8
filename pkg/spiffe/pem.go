package spiffe

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// ParseCertsPEM reads every CERTIFICATE block of PEM data, in order,
// skipping other blocks; data without one gives none and no error, so each
// caller can say what file it expected and how to make it.
func ParseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}
