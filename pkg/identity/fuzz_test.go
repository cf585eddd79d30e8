package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net"
	"testing"
	"time"
)

func FuzzSignCSR(f *testing.F) {
	clk := newFakeClock()
	ca, _ := newTestCA(f, clk)
	id := mustID(f, "shop", "a")
	key := newKey(f)
	rsa1024, p521, caTrue := refusedParts(f, elliptic.P521())
	good := csrWithURI(f, key, id)
	badSig := append([]byte{}, good...)
	badSig[len(badSig)-3] ^= 1
	for _, seed := range [][]byte{
		good,
		csrWithURI(f, key),
		badSig,
		csrWithURI(f, key, mustID(f, "shop", "b")),
		csrWithURI(f, key, id, id),
		csrFor(f, key, &x509.CertificateRequest{DNSNames: []string{"a"}}),
		csrFor(f, key, &x509.CertificateRequest{IPAddresses: []net.IP{net.IPv6loopback}}),
		csrFor(f, key, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{{Id: oidBasicConstraints, Value: caTrue}}}),
		csrFor(f, key, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{{Id: oidBasicConstraints, Value: []byte{0x30, 0x03, 0x01, 0x01}}}}),
		csrFor(f, rsa1024, &x509.CertificateRequest{}),
		csrFor(f, p521, &x509.CertificateRequest{}),
		nil, {0x30}, {0x30, 0x80}, []byte("not a csr"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		chain, err := ca.SignCSR(der, id, time.Hour)
		if err != nil {
			if chain != nil {
				t.Fatal("a refused CSR returned certificates")
			}
			return
		}
		// Check the accepted CSR again, independently of CheckCSR.
		csr, perr := x509.ParseCertificateRequest(der)
		if perr != nil {
			t.Fatalf("signed a CSR that does not parse: %v", perr)
		}
		if err := csr.CheckSignature(); err != nil {
			t.Fatalf("signed a CSR whose signature does not verify: %v", err)
		}
		if len(csr.DNSNames)+len(csr.IPAddresses)+len(csr.EmailAddresses) > 0 || len(csr.URIs) > 1 {
			t.Fatal("signed a CSR with extra SANs")
		}
		if len(csr.URIs) == 1 && csr.URIs[0].String() != id.String() {
			t.Fatalf("signed a CSR asking for %s", csr.URIs[0])
		}
		switch k := csr.PublicKey.(type) {
		case *ecdsa.PublicKey:
			if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
				t.Fatalf("signed a key on %s", k.Curve.Params().Name)
			}
		case *rsa.PublicKey:
			if k.N.BitLen() < 2048 {
				t.Fatalf("signed RSA-%d", k.N.BitLen())
			}
		}
		for _, ext := range csr.Extensions {
			if ext.Id.Equal(oidBasicConstraints) {
				var bc struct {
					IsCA bool `asn1:"optional"`
				}
				if _, err := asn1.Unmarshal(ext.Value, &bc); err != nil || bc.IsCA {
					t.Fatal("signed a CSR with a CA or malformed BasicConstraints")
				}
			}
		}
		leaf := chain[0]
		if leaf.IsCA || len(leaf.URIs) != 1 || leaf.URIs[0].String() != id.String() ||
			len(leaf.DNSNames)+len(leaf.IPAddresses)+len(leaf.EmailAddresses) != 0 {
			t.Fatal("the leaf is not a plain SVID for the caller's ID")
		}
		if !publicKeysEqual(csr.PublicKey, leaf.PublicKey) {
			t.Fatal("the leaf does not certify the CSR's key")
		}
	})
}
