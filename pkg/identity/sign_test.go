package identity

import (
	"bytes"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

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
