package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/dataplane"
)

func TestSignCSRRefusals(t *testing.T) {
	clk := newFakeClock()
	ca, _ := newTestCA(t, clk)
	id := mustID(t, "shop", "a")
	other := mustID(t, "shop", "b")
	key := newKey(t)

	rsa1024, p224, caTrue := refusedParts(t, elliptic.P224())
	badSig := csrWithURI(t, key, id)
	badSig[len(badSig)-3] ^= 0xff // inside the signature BIT STRING

	cases := []struct {
		name string
		csr  []byte
		want string
	}{
		{"not DER", []byte("-----BEGIN CERTIFICATE REQUEST-----"), "not a valid DER"},
		{"empty", nil, "not a valid DER"},
		{"bad signature", badSig, "signature does not verify"},
		{"RSA-1024", csrFor(t, rsa1024, &x509.CertificateRequest{URIs: []*url.URL{id.URL()}}), "weak key"},
		{"P-224", csrFor(t, p224, &x509.CertificateRequest{}), "curve P-224 is not supported"},
		{"DNS SAN", csrFor(t, key, &x509.CertificateRequest{URIs: []*url.URL{id.URL()}, DNSNames: []string{"cart.shop"}}), "DNS SANs"},
		{"IP SAN", csrFor(t, key, &x509.CertificateRequest{IPAddresses: []net.IP{net.IPv4(10, 0, 0, 1)}}), "IP SANs"},
		{"email SAN", csrFor(t, key, &x509.CertificateRequest{EmailAddresses: []string{"a@shop"}}), "email SANs"},
		{"another identity's URI", csrWithURI(t, key, other), `may only hold "spiffe://embassy.local/ns/shop/sa/a"`},
		{"non-SPIFFE URI", csrFor(t, key, &x509.CertificateRequest{URIs: []*url.URL{mustURL(t, "https://shop/a")}}), "may only hold"},
		{"two URIs", csrWithURI(t, key, id, id), "2 URI SANs"},
		{"CA request", csrFor(t, key, &x509.CertificateRequest{
			URIs:            []*url.URL{id.URL()},
			ExtraExtensions: []pkix.Extension{{Id: oidBasicConstraints, Critical: true, Value: caTrue}},
		}), "CA request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			chain, err := ca.SignCSR(c.csr, id, time.Hour)
			if err == nil {
				t.Fatalf("signed %d certs, want a refusal", len(chain))
			}
			if !errors.Is(err, ErrBadCSR) {
				t.Errorf("error %q does not wrap ErrBadCSR", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
}

func TestSignCSRAccepts(t *testing.T) {
	clk := newFakeClock()
	ca, _ := newTestCA(t, clk)
	id := mustID(t, "shop", "a")
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caFalse, err := asn1.Marshal(struct {
		IsCA bool `asn1:"optional"`
	}{false})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"RSA-2048": csrWithURI(t, rsa2048, id),
		"P-384":    csrWithURI(t, p384, id),
		"CA=false": csrFor(t, newKey(t), &x509.CertificateRequest{
			ExtraExtensions: []pkix.Extension{{Id: oidBasicConstraints, Value: caFalse}},
		}),
	}
	for name, csr := range cases {
		chain, err := ca.SignCSR(csr, id, time.Hour)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if chain[0].IsCA {
			t.Errorf("%s: leaf is a CA", name)
		}
	}
}

func TestSignCSRCallerChecks(t *testing.T) {
	clk := newFakeClock()
	ca, _ := newTestCA(t, clk)
	key := newKey(t)
	foreign, err := dataplane.WorkloadID(mustTD(t, "other.local"), "shop", "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.SignCSR(csrWithURI(t, key), foreign, time.Hour); err == nil || !strings.Contains(err.Error(), "not in trust domain") {
		t.Errorf("foreign trust domain: %v, want a refusal", err)
	}
	id := mustID(t, "shop", "a")
	for _, ttl := range []time.Duration{0, -time.Second} {
		if _, err := ca.SignCSR(csrWithURI(t, key), id, ttl); err == nil {
			t.Errorf("ttl %s signed, want a refusal", ttl)
		}
	}
	chain, err := ca.SignCSR(csrWithURI(t, key), id, 1000*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := clk.Now().Add(DefaultMaxSVIDTTL); !chain[0].NotAfter.Equal(want) {
		t.Errorf("NotAfter %s, want the MaxSVIDTTL cap %s", chain[0].NotAfter, want)
	}
}
