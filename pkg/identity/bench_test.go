package identity

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"testing"
	"time"
)

// BenchmarkSignCSR measures a full SignCSR: parse and check the CSR, pick
// the active root, sign and parse the leaf.
func BenchmarkSignCSR(b *testing.B) {
	clk := newFakeClock()
	ca, _ := newTestCA(b, clk)
	id := mustID(b, "shop", "a")
	csr := csrWithURI(b, newKey(b), id)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ca.SignCSR(csr, id, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseCSR measures one parse of a CSR (DER and the
// self-signature check): what the identity service saves for each parse of
// a request it no longer repeats.
func BenchmarkParseCSR(b *testing.B) {
	csr := csrWithURI(b, newKey(b), mustID(b, "shop", "a"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCSR(csr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawSign is the baseline: an ECDSA P-256 root signing a leaf
// template with x509.CreateCertificate and nothing else.
func BenchmarkRawSign(b *testing.B) {
	rootKey := newKey(b)
	now := time.Now()
	rootTmpl := &x509.Certificate{
		SerialNumber: serialOrFail(b), Subject: pkix.Name{CommonName: "bench root"},
		NotBefore: now, NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		b.Fatal(err)
	}
	root, err := x509.ParseCertificate(der)
	if err != nil {
		b.Fatal(err)
	}
	leafPub := newKey(b).Public()
	u := &url.URL{Scheme: "spiffe", Host: "embassy.local", Path: "/ns/shop/sa/a"}
	b.ReportAllocs()
	for b.Loop() {
		tmpl := &x509.Certificate{
			SerialNumber: serialOrFail(b), URIs: []*url.URL{u},
			NotBefore: now, NotAfter: now.Add(time.Hour), BasicConstraintsValid: true,
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		}
		if _, err := x509.CreateCertificate(rand.Reader, tmpl, root, leafPub, rootKey); err != nil {
			b.Fatal(err)
		}
	}
}

func serialOrFail(b *testing.B) *big.Int {
	b.Helper()
	n, err := randomSerial()
	if err != nil {
		b.Fatal(err)
	}
	return n
}
