package echo_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"embassy.dev/embassy/internal/echo"
	"embassy.dev/embassy/internal/grpctest"
)

// issue makes a certificate signed by parent (self-signed when parent is
// nil) with the given URI SAN.
func issue(t *testing.T, parent *tls.Certificate, serial int64, isCA bool, uri string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "whoami test"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: isCA, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"},
	}
	if uri != "" {
		u, err := url.Parse(uri)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = []*url.URL{u}
	}
	signerCert, signerKey := tmpl, any(key)
	if parent != nil {
		signerCert, signerKey = parent.Leaf, parent.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func TestWhoamiWithoutTLS(t *testing.T) {
	cc := grpctest.Dial(t, serve(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := echo.Whoami(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	if p.Server != "v1" || p.Security != "insecure" || p.SPIFFEID != "" || p.Serial != "" || p.Address == "" {
		t.Fatalf("plaintext caller seen as %+v", p)
	}
}

func TestWhoamiReportsTheClientCertificate(t *testing.T) {
	ca := issue(t, nil, 1, true, "")
	srvCert := issue(t, &ca, 2, false, "spiffe://example.org/ns/default/sa/echo")
	cliCert := issue(t, &ca, 0x2a3b, false, "spiffe://example.org/ns/default/sa/client")
	pool := x509.NewCertPool()
	pool.AddCert(ca.Leaf)
	addr := serve(t, grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{srvCert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
	})))
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{cliCert}, RootCAs: pool, ServerName: "localhost",
	})))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := echo.Whoami(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	if p.Security != "tls" || p.SPIFFEID != "spiffe://example.org/ns/default/sa/client" || p.Serial != "2a3b" || p.Serial != echo.SerialHex(cliCert.Leaf) {
		t.Fatalf("mTLS caller seen as %+v", p)
	}
	if p.NotBefore == nil || !p.NotBefore.Equal(cliCert.Leaf.NotBefore) {
		t.Fatalf("NotBefore %v, the certificate's is %v", p.NotBefore, cliCert.Leaf.NotBefore)
	}
}
