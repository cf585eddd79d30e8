package identity

import (
	"bytes"
	"crypto/x509"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/dataplane"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

func TestSignCSRLeafProperties(t *testing.T) {
	clk := newFakeClock()
	ca, _ := newTestCA(t, clk)
	id := mustID(t, "shop", "cart")
	key := newKey(t)
	chain, err := ca.SignCSR(csrWithURI(t, key, id), id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 1 {
		t.Fatalf("builtin chain has %d certs, want the leaf only", len(chain))
	}
	leaf := chain[0]
	got, _, err := x509svid.Verify(chain, ca, x509svid.WithTime(clk.Now()))
	if err != nil {
		t.Fatalf("go-spiffe does not verify the leaf: %v", err)
	}
	if got != id {
		t.Fatalf("verified ID %q, want %q", got, id)
	}
	now := clk.Now()
	checks := []struct {
		name string
		ok   bool
	}{
		{"one URI SAN, the ID", len(leaf.URIs) == 1 && leaf.URIs[0].String() == id.String()},
		{"no DNS/IP/email SAN", len(leaf.DNSNames)+len(leaf.IPAddresses)+len(leaf.EmailAddresses) == 0},
		{"empty subject (CSR subject not copied)", len(leaf.Subject.Names) == 0},
		{"CA=false", leaf.BasicConstraintsValid && !leaf.IsCA},
		{"key usage digitalSignature only", leaf.KeyUsage == x509.KeyUsageDigitalSignature},
		{"ext key usage server+client", len(leaf.ExtKeyUsage) == 2 && leaf.ExtKeyUsage[0] == x509.ExtKeyUsageServerAuth && leaf.ExtKeyUsage[1] == x509.ExtKeyUsageClientAuth},
		{"NotBefore now-30s", leaf.NotBefore.Equal(now.Add(-30 * time.Second))},
		{"NotAfter now+ttl", leaf.NotAfter.Equal(now.Add(time.Hour))},
		{"serial positive, at most 128 bits", leaf.SerialNumber.Sign() > 0 && leaf.SerialNumber.Cmp(new(big.Int).Lsh(big.NewInt(1), 128)) < 0},
		{"key is the CSR's", key.PublicKey.Equal(leaf.PublicKey)},
		{"signed by the bundle root", bytes.Equal(leaf.RawIssuer, ca.Bundle()[0].RawSubject) && leaf.CheckSignatureFrom(ca.Bundle()[0]) == nil},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("leaf: %s: not so", c.name)
		}
	}
	// A second leaf has a different serial.
	chain2, err := ca.SignCSR(csrWithURI(t, key), id, time.Hour)
	if err != nil {
		t.Fatalf("a CSR with no URI SAN is fine: %v", err)
	}
	if chain2[0].SerialNumber.Cmp(leaf.SerialNumber) == 0 {
		t.Fatal("two leaves share a serial")
	}
}

func TestSignServer(t *testing.T) {
	clk := newFakeClock()
	ca, _ := newTestCA(t, clk)
	cp := dataplane.ControlPlaneID(ca.TrustDomain())
	key := newKey(t)
	chain, err := ca.SignServer(key.Public(), cp, []string{"embassy-cp.embassy-system.svc"}, []net.IP{net.IPv4(127, 0, 0, 1)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf := chain[0]
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != cp.String() || len(leaf.DNSNames) != 1 || len(leaf.IPAddresses) != 1 {
		t.Fatalf("serving cert SANs: %v %v %v", leaf.URIs, leaf.DNSNames, leaf.IPAddresses)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		DNSName: "embassy-cp.embassy-system.svc", Roots: pool(ca.Bundle()), CurrentTime: clk.Now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		t.Fatalf("serving cert does not verify for its DNS name: %v", err)
	}
	if _, err := ca.SignServer(struct{}{}, cp, nil, nil, time.Hour); err == nil {
		t.Fatal("SignServer accepted an unknown key type")
	}
}

func TestConcurrentUse(t *testing.T) {
	clk := newFakeClock()
	ca, sec := newTestCA(t, clk)
	toks, err := NewTokens(sec, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := toks.Create("shop", "a", "", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	id := mustID(t, "shop", "a")
	csr := csrWithURI(t, newKey(t), id)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 4 {
		wg.Go(func() {
			for i := range 10 {
				if _, err := ca.SignCSR(csr, id, time.Hour); err != nil {
					errs <- err
				}
				if _, err := toks.Redeem(secret); err != nil {
					errs <- err
				}
				if w == 0 && i%5 == 0 {
					if err := ca.Rotate(); err != nil {
						errs <- err
					}
					clk.Advance(time.Minute)
				}
				_ = ca.Roots()
				if _, err := ca.JWKS(); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := toks.List()[0].Uses; got != 40 {
		t.Fatalf("token counted %d uses, want 40", got)
	}
}

// pool makes a cert pool of certs.
func pool(certs []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
