package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/store"
)

// fakeClock is a settable clock for rotation and expiry tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var testTD = spiffeid.RequireTrustDomainFromString(dataplane.DefaultTrustDomain)

// mustID returns the workload ID of ns/sa in the test trust domain.
func mustID(t testing.TB, ns, sa string) spiffeid.ID {
	t.Helper()
	id, err := dataplane.WorkloadID(testTD, ns, sa)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// newTestCA makes a builtin CA over a fresh memory store.
func newTestCA(t testing.TB, clk *fakeClock) (*CA, store.Secrets) {
	t.Helper()
	sec := store.NewMemory()
	ca, err := LoadOrCreateCA(sec, CAConfig{}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	return ca, sec
}

// newKey makes an ECDSA P-256 key.
func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// refusedParts are what the CA must refuse in a CSR: an RSA key too weak,
// an ECDSA key on curve (any but P-256), and a basicConstraints value
// saying CA:true.
func refusedParts(t testing.TB, curve elliptic.Curve) (rsa1024 *rsa.PrivateKey, ec *ecdsa.PrivateKey, caTrue []byte) {
	t.Helper()
	var err error
	if rsa1024, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
		t.Fatal(err)
	}
	if ec, err = ecdsa.GenerateKey(curve, rand.Reader); err != nil {
		t.Fatal(err)
	}
	if caTrue, err = asn1.Marshal(struct {
		IsCA bool `asn1:"optional"`
	}{true}); err != nil {
		t.Fatal(err)
	}
	return rsa1024, ec, caTrue
}

// csrFor builds a DER CSR signed by key from the template.
func csrFor(t testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// csrWithURI builds a CSR carrying exactly the given URI SANs.
func csrWithURI(t testing.TB, key crypto.Signer, ids ...spiffeid.ID) []byte {
	t.Helper()
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ignored"}}
	for _, id := range ids {
		tmpl.URIs = append(tmpl.URIs, id.URL())
	}
	return csrFor(t, key, tmpl)
}

// mustURL parses a URL.
func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// mustTD parses a trust domain.
func mustTD(t testing.TB, s string) spiffeid.TrustDomain {
	t.Helper()
	td, err := spiffeid.TrustDomainFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return td
}
