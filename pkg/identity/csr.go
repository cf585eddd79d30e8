package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// ErrBadCSR is wrapped by every refusal of a CSR, so callers can tell a bad
// request from a failure of the CA.
var ErrBadCSR = errors.New("CSR refused")

// minRSABits is the smallest RSA key the CA certifies.
const minRSABits = 2048

var oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}

// CheckCSR parses csrDER (see ParseCSR) and checks that it may become an
// SVID for id (see CheckRequest). Every refusal wraps ErrBadCSR.
func CheckCSR(csrDER []byte, id spiffeid.ID) (*x509.CertificateRequest, error) {
	csr, err := ParseCSR(csrDER)
	if err != nil {
		return nil, err
	}
	if err := CheckRequest(csr, id); err != nil {
		return nil, err
	}
	return csr, nil
}

// ParseCSR parses csrDER and checks what holds whatever the identity: a
// valid self-signature and a supported key (ECDSA P-256 or P-384,
// Ed25519, RSA of at least 2048 bits). A request is parsed once and the
// result passed on, since checking the signature is the costly part.
// Every refusal wraps ErrBadCSR.
func ParseCSR(csrDER []byte) (*x509.CertificateRequest, error) {
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, csrErr("CSR is not a valid DER PKCS#10 request: %v (send the DER bytes, not PEM)", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, csrErr("CSR signature does not verify: %v (sign the CSR with the key it carries)", err)
	}
	if err := CheckPublicKey(csr.PublicKey); err != nil {
		return nil, err
	}
	return csr, nil
}

// CheckRequest checks that a CSR from ParseCSR may become an SVID for id:
// no DNS, IP or email SAN, at most one URI SAN and that one exactly id,
// and no request to be a CA. The CSR's subject and extensions are never
// copied into a certificate. Every refusal wraps ErrBadCSR.
func CheckRequest(csr *x509.CertificateRequest, id spiffeid.ID) error {
	switch {
	case len(csr.DNSNames) > 0:
		return csrErr("CSR asks for DNS SANs %q: SVIDs carry only the SPIFFE ID, drop the DNS names", csr.DNSNames)
	case len(csr.IPAddresses) > 0:
		return csrErr("CSR asks for IP SANs %v: SVIDs carry only the SPIFFE ID, drop the IP addresses", csr.IPAddresses)
	case len(csr.EmailAddresses) > 0:
		return csrErr("CSR asks for email SANs %q: SVIDs carry only the SPIFFE ID, drop the email addresses", csr.EmailAddresses)
	case len(csr.URIs) > 1:
		return csrErr("CSR asks for %d URI SANs: an SVID has exactly one, ask for %q or none", len(csr.URIs), id)
	case len(csr.URIs) == 1 && csr.URIs[0].String() != id.String():
		return csrErr("CSR asks for URI SAN %q but this caller may only hold %q: ask for that ID or none", csr.URIs[0].String(), id)
	}
	for _, ext := range csr.Extensions {
		if !ext.Id.Equal(oidBasicConstraints) {
			continue
		}
		var bc struct {
			IsCA       bool `asn1:"optional"`
			MaxPathLen int  `asn1:"optional,default:-1"`
		}
		rest, err := asn1.Unmarshal(ext.Value, &bc)
		if err != nil || len(rest) != 0 {
			return csrErr("CSR has a malformed BasicConstraints extension: drop it")
		}
		if bc.IsCA {
			return csrErr("CSR is a CA request (BasicConstraints CA=true): workloads get leaf certificates, drop the extension")
		}
	}
	return nil
}

// CheckPublicKey refuses keys the CA does not certify: RSA under 2048 bits,
// ECDSA on curves other than P-256 and P-384, and unknown key types.
func CheckPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return csrErr("ECDSA curve %s is not supported: use P-256 or P-384", k.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return csrErr("weak key: RSA-%d is under %d bits, use ECDSA P-256 or RSA of at least %d bits", k.N.BitLen(), minRSABits, minRSABits)
		}
	case ed25519.PublicKey:
	default:
		return csrErr("key type %T is not supported: use ECDSA P-256", pub)
	}
	return nil
}

func csrErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadCSR, fmt.Sprintf(format, args...))
}
