package agent

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"embassy.dev/embassy/pkg/identity/wire"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/spiffe"
)

// testTD and testID are the trust domain and the identity the test CA
// puts in every SVID it signs.
var (
	testTD = spiffeid.RequireTrustDomainFromString("test.embassy")
	testID = spiffeid.RequireFromString("spiffe://test.embassy/ns/shop/sa/web")
)

// testCA is a real CA: a self-signed P-256 root that signs CSRs into
// X.509-SVIDs for testID.
type testCA struct {
	root *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"embassy test"}},
		URIs:                  []*url.URL{testTD.ID().URL()},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{root: root, key: key}
}

// signedFor makes a key as the agent does and returns it with the CA's
// answer to its CSR for id, valid for ttl.
func (ca *testCA) signedFor(t testing.TB, id spiffeid.ID, ttl time.Duration) (*ecdsa.PrivateKey, *wire.SVIDResponse) {
	t.Helper()
	key, csr, err := spiffe.NewKeyAndCSR()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ca.sign(csr, id, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return key, resp
}

// issue is signedFor read back as the agent holds the result.
func (ca *testCA) issue(t testing.TB, id spiffeid.ID, ttl time.Duration) *Identity {
	t.Helper()
	key, resp := ca.signedFor(t, id, ttl)
	svid, roots, err := parseSVIDResponse(resp, key)
	if err != nil {
		t.Fatal(err)
	}
	return &Identity{ID: id, SVID: svid, Roots: roots}
}

// sign turns a CSR into an SVID for id valid for ttl, as the control plane
// would: the CSR's own names are ignored.
func (ca *testCA) sign(csrDER []byte, id spiffeid.ID, ttl time.Duration) (*wire.SVIDResponse, error) {
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		URIs:                  []*url.URL{id.URL()},
		NotBefore:             now.Add(-time.Second),
		NotAfter:              now.Add(ttl),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.root, csr.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	return &wire.SVIDResponse{SpiffeId: id.String(), Chain: [][]byte{der}, Bundle: [][]byte{ca.root.Raw}, ExpiresAt: timestamppb.New(tmpl.NotAfter)}, nil
}

// fakeCP is a ControlPlane over a testCA. It records every request in the
// form it would take on the wire, and can be taken down and brought back.
type fakeCP struct {
	ca     *testCA
	jwtKey *ecdsa.PrivateKey

	mu           sync.Mutex
	ttl          time.Duration
	down         bool
	refuse       error // returned by Attest when set
	sent         []proto.Message
	renewals     int
	registers    int
	deregistered []string
	registered   chan string
	renewFailed  chan time.Time    // each failed Renew, while down
	nextRoot     *x509.Certificate // published by Bundle beside the root, when set
	reports      []*wire.AuthzReport
}

func newFakeCP(t testing.TB, ttl time.Duration) *fakeCP {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeCP{ca: newTestCA(t), jwtKey: key, ttl: ttl, registered: make(chan string, 100), renewFailed: make(chan time.Time, 1000)}
}

var errDown = status.Error(codes.Unavailable, "connection refused")

// record keeps a copy of req and says whether the control plane is down.
func (f *fakeCP) record(req proto.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, proto.Clone(req))
	if f.down {
		return errDown
	}
	return nil
}

func (f *fakeCP) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *fakeCP) Attest(_ context.Context, req *wire.AttestRequest) (*wire.SVIDResponse, error) {
	if err := f.record(req); err != nil {
		return nil, err
	}
	f.mu.Lock()
	refuse, ttl := f.refuse, f.ttl
	f.mu.Unlock()
	if refuse != nil {
		return nil, refuse
	}
	if req.Token != "emb1.test.secret" || req.Workload != "web-1" {
		return nil, status.Error(codes.Unauthenticated, "bad token")
	}
	return f.ca.sign(req.Csr, testID, ttl)
}

func (f *fakeCP) Renew(_ context.Context, csr []byte) (*wire.SVIDResponse, error) {
	if err := f.record(&wire.RenewRequest{Csr: csr}); err != nil {
		select {
		case f.renewFailed <- time.Now():
		default:
		}
		return nil, err
	}
	f.mu.Lock()
	f.renewals++
	ttl := f.ttl
	f.mu.Unlock()
	return f.ca.sign(csr, testID, ttl)
}

func (f *fakeCP) Register(_ context.Context, name string, spec resource.WorkloadSpec) (*wire.RegisterResponse, error) {
	if err := f.record(&wire.RegisterRequest{Name: name, Spec: wire.WorkloadSpecFrom(spec)}); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.registers++
	f.mu.Unlock()
	select { // tests that do not read it must not block the agent
	case f.registered <- name:
	default:
	}
	return &wire.RegisterResponse{LeaseSeconds: 30}, nil
}

func (f *fakeCP) Deregister(_ context.Context, name string) error {
	if err := f.record(&wire.DeregisterRequest{Name: name}); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deregistered = append(f.deregistered, name)
	return nil
}

func (f *fakeCP) MintJWT(_ context.Context, audience []string) (*wire.JWTResponse, error) {
	if err := f.record(&wire.JWTRequest{Audience: audience}); err != nil {
		return nil, err
	}
	return mintJWT(f.jwtKey, "k1", testID, audience)
}

// mintJWT signs a JWT-SVID for id and audience with key, valid for five
// minutes, as the control plane and SPIRE answer MintJWT.
func mintJWT(key *ecdsa.PrivateKey, kid string, id spiffeid.ID, audience []string) (*wire.JWTResponse, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, err
	}
	exp := time.Now().Add(5 * time.Minute)
	token, err := jwt.Signed(signer).Claims(jwt.Claims{
		Subject: id.String(), Audience: audience, Expiry: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(time.Now()),
	}).Serialize()
	if err != nil {
		return nil, err
	}
	return &wire.JWTResponse{Token: token, ExpiresAt: timestamppb.New(exp)}, nil
}

func (f *fakeCP) ReportAuthz(_ context.Context, report *wire.AuthzReport) error {
	if err := f.record(report); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reports = append(f.reports, report)
	return nil
}

// authzReports returns the reports received so far.
func (f *fakeCP) authzReports() []*wire.AuthzReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*wire.AuthzReport(nil), f.reports...)
}

func (f *fakeCP) Bundle(context.Context) (*wire.BundleResponse, error) {
	if err := f.record(&wire.BundleRequest{}); err != nil {
		return nil, err
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: f.jwtKey.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		return nil, err
	}
	roots := [][]byte{f.ca.root.Raw}
	f.mu.Lock()
	if f.nextRoot != nil {
		roots = append(roots, f.nextRoot.Raw)
	}
	f.mu.Unlock()
	return &wire.BundleResponse{TrustDomain: testTD.Name(), X509Roots: roots, Jwks: jwks}, nil
}

// requests returns a copy of every request sent so far.
func (f *fakeCP) requests() []proto.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]proto.Message(nil), f.sent...)
}

// keyBytes are the forms a leaked private key could take in a request.
func keyBytes(t *testing.T, key crypto.Signer) [][]byte {
	t.Helper()
	ec := key.(*ecdsa.PrivateKey)
	der, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	d := ec.D.FillBytes(make([]byte, 32))
	b64, _ := json.Marshal(d) // []byte as JSON: base64 in quotes
	return [][]byte{der, d, bytes.Trim(b64, `"`)}
}

// runUntil starts run in a goroutine and waits until ready closes, failing
// the test, naming what it waited for, if run returns first or 10s pass (a
// liveness bound). It returns what stops run and the channel of its error.
func runUntil(t *testing.T, run func(context.Context) error, ready <-chan struct{}, what string) (context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("Run returned while waiting for %s: %v", what, err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("timed out waiting for %s", what)
	}
	return cancel, done
}
