package identity

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"embassy.dev/embassy/pkg/store"
)

// testCert is a CA certificate and its key made for the provided-CA tests.
type testCert struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// makeCA issues a CA cert for key, signed by parent (self-signed when nil).
func makeCA(t *testing.T, name string, key crypto.Signer, parent *testCert, now time.Time) testCert {
	t.Helper()
	serial, err := randomSerial()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	signerCert, signerKey := tmpl, key
	if parent != nil {
		signerCert, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, key.Public(), signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{cert: cert, key: key}
}

// writeFiles writes certs (in order) and a key block to files in a temp dir.
func writeFiles(t *testing.T, keyType string, keyDER []byte, certs ...*x509.Certificate) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	var buf bytes.Buffer
	for _, c := range certs {
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}); err != nil {
			t.Fatal(err)
		}
	}
	certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	if err := os.WriteFile(certFile, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: keyType, Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func pkcs8(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestProvidedRootCA(t *testing.T) {
	clk := newFakeClock()
	key := newKey(t)
	root := makeCA(t, "provided root", key, nil, clk.Now())
	sec1, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for _, kf := range []struct {
		typ string
		der []byte
	}{{"EC PRIVATE KEY", sec1}, {"PRIVATE KEY", pkcs8(t, key)}} {
		certFile, keyFile := writeFiles(t, kf.typ, kf.der, root.cert)
		mem := store.NewMemory()
		rec := &recordingSecrets{Secrets: mem}
		ca, err := LoadOrCreateCA(rec, CAConfig{Type: CATypeProvided, CertFile: certFile, KeyFile: keyFile}, clk.Now)
		if err != nil {
			t.Fatalf("%s: %v", kf.typ, err)
		}
		if b := ca.Bundle(); len(b) != 1 || !b[0].Equal(root.cert) {
			t.Fatalf("%s: bundle is not the provided root", kf.typ)
		}
		id := mustID(t, "shop", "a")
		chain, err := ca.SignCSR(csrWithURI(t, newKey(t), id), id, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if len(chain) != 1 || !issuedBy(chain[0], root.cert) {
			t.Fatalf("%s: chain has %d certs, want the leaf signed by the root", kf.typ, len(chain))
		}
		if _, _, err := x509svid.Verify(chain, ca, x509svid.WithTime(clk.Now())); err != nil {
			t.Fatal(err)
		}
		if err := ca.Rotate(); err == nil {
			t.Fatal("a provided CA rotated itself")
		}
		if r := ca.Roots(); len(r) != 1 || !r[0].Active {
			t.Fatalf("Roots() = %+v, want the provided root, active", r)
		}
		if _, err := mem.GetSecret(SecretRoots); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a provided CA wrote %q: %v", SecretRoots, err)
		}
		for _, put := range rec.puts {
			if bytes.Contains(put, kf.der) || bytes.Contains(put, pkcs8(t, key)) {
				t.Fatal("the provided CA key was stored")
			}
		}
	}
}

func TestProvidedIntermediateChain(t *testing.T) {
	clk := newFakeClock()
	root := makeCA(t, "offline root", newKey(t), nil, clk.Now())
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	inter := makeCA(t, "mesh intermediate", rsaKey, &root, clk.Now())
	certFile, keyFile := writeFiles(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey), inter.cert, root.cert)
	ca, err := LoadOrCreateCA(store.NewMemory(), CAConfig{Type: CATypeProvided, CertFile: certFile, KeyFile: keyFile}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	if b := ca.Bundle(); len(b) != 1 || !b[0].Equal(root.cert) {
		t.Fatal("bundle is not the root at the end of the provided chain")
	}
	id := mustID(t, "shop", "a")
	chain, err := ca.SignCSR(csrWithURI(t, newKey(t), id), id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 2 || !issuedBy(chain[0], inter.cert) || !chain[1].Equal(inter.cert) {
		t.Fatalf("chain has %d certs, want the leaf signed by the intermediate, then the intermediate", len(chain))
	}
	if got, _, err := x509svid.Verify(chain, ca, x509svid.WithTime(clk.Now())); err != nil || got != id {
		t.Fatalf("go-spiffe: %v, %v", got, err)
	}
	// JWT-SVIDs work with a provided CA too, with a key kept across restarts.
	mem := store.NewMemory()
	var kids []string
	for range 2 {
		ca, err = LoadOrCreateCA(mem, CAConfig{Type: CATypeProvided, CertFile: certFile, KeyFile: keyFile}, clk.Now)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := ca.MintJWT(id, []string{"x"}, time.Minute); err != nil {
			t.Fatal(err)
		}
		kids = append(kids, jwtKIDs(t, ca))
	}
	if kids[0] == "" || kids[0] != kids[1] {
		t.Fatalf("JWT keys %q across a restart, want the same single key", kids)
	}
}

func TestProvidedRefusals(t *testing.T) {
	clk := newFakeClock()
	rootKey := newKey(t)
	root := makeCA(t, "root", rootKey, nil, clk.Now())
	interKey := newKey(t)
	inter := makeCA(t, "intermediate", interKey, &root, clk.Now())
	otherRoot := makeCA(t, "other root", newKey(t), nil, clk.Now())
	leafTmpl := &x509.Certificate{SerialNumber: inter.cert.SerialNumber, Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: clk.Now().Add(-time.Hour), NotAfter: clk.Now().Add(time.Hour), BasicConstraintsValid: true}
	leafKey := newKey(t)
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root.cert, leafKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name    string
		keyType string
		key     []byte
		certs   []*x509.Certificate
		want    string
	}{
		{"mismatched key", "PRIVATE KEY", pkcs8(t, newKey(t)), []*x509.Certificate{root.cert}, "does not match"},
		{"intermediate key for the root", "PRIVATE KEY", pkcs8(t, interKey), []*x509.Certificate{root.cert}, "does not match"},
		{"not a CA", "PRIVATE KEY", pkcs8(t, leafKey), []*x509.Certificate{leaf, root.cert}, "not a CA"},
		{"chain without its root", "PRIVATE KEY", pkcs8(t, interKey), []*x509.Certificate{inter.cert}, "not a self-signed root"},
		{"broken chain", "PRIVATE KEY", pkcs8(t, interKey), []*x509.Certificate{inter.cert, otherRoot.cert}, "chain is broken"},
		{"encrypted key", "ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}, []*x509.Certificate{root.cert}, "encrypted"},
		{"no cert", "PRIVATE KEY", pkcs8(t, rootKey), nil, "no PEM CERTIFICATE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			certFile, keyFile := writeFiles(t, c.keyType, c.key, c.certs...)
			_, err := LoadOrCreateCA(store.NewMemory(), CAConfig{Type: CATypeProvided, CertFile: certFile, KeyFile: keyFile}, clk.Now)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error saying %q", err, c.want)
			}
		})
	}
	if _, err := LoadOrCreateCA(store.NewMemory(), CAConfig{Type: CATypeProvided}, clk.Now); err == nil {
		t.Error("a provided CA without files loaded")
	}
	if _, err := LoadOrCreateCA(store.NewMemory(), CAConfig{Type: "vault"}, clk.Now); err == nil {
		t.Error("an unknown CA type loaded")
	}
}
