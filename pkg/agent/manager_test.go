package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/dataplane"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func leafOf(id *Identity) *x509.Certificate { return id.SVID.Certificates[0] }

// After a rotation the PEM files hold the new chain and a key that pairs
// with it; the key file is 0600.
func TestPEMFilesFollowRotation(t *testing.T) {
	ta := startAgent(t, newFakeCP(t, 2*time.Second), nil)
	first := ta.Manager().Current()
	rotated := waitIdentity(t, ta.Manager(), 5*time.Second, "rotation", func(id *Identity) bool {
		return id.SVID != nil && id.SVID != first.SVID
	})
	chain, err := os.ReadFile(ta.path(dataplane.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(ta.path(dataplane.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(chain, key)
	if err != nil {
		t.Fatalf("%s and %s do not pair: %v", dataplane.CertFile, dataplane.KeyFile, err)
	}
	if !pair.Leaf.Equal(leafOf(rotated)) {
		t.Fatalf("%s holds serial %x, want the rotated %x", dataplane.CertFile, pair.Leaf.SerialNumber, leafOf(rotated).SerialNumber)
	}
	fi, err := os.Stat(ta.path(dataplane.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v, want 0600", dataplane.KeyFile, fi.Mode().Perm())
	}
	bundle, err := os.ReadFile(ta.path(dataplane.BundleFile))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := pem.Decode(bundle); b == nil || !bytes.Equal(b.Bytes, ta.cp.ca.root.Raw) {
		t.Fatalf("%s does not hold the root", dataplane.BundleFile)
	}
	for _, s := range []string{dataplane.SDSSocket, dataplane.WorkloadSocket} {
		fi, err := os.Stat(ta.path(s))
		if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != socketMode {
			t.Fatalf("%s: %v, %v", s, fi.Mode(), err)
		}
	}
	entries, _ := os.ReadDir(ta.dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("temporary file left behind: %s", e.Name())
		}
	}
}

// While the control plane is down the agent keeps serving its SVID, retries
// with growing, bounded backoff, withholds the SVID once it expires, and
// renews as soon as the control plane is back.
func TestUnreachableControlPlane(t *testing.T) {
	cp := newFakeCP(t, 3*time.Second)
	ta := startAgent(t, cp, nil)
	m := ta.Manager()
	issued := m.Current()
	cp.setDown(true)

	// Before expiry: still the first SVID, over the Workload API too.
	c := newWorkloadClient(t, ta)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	svid, err := c.FetchX509SVID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !svid.Certificates[0].Equal(leafOf(issued)) {
		t.Fatal("the SVID changed while the control plane was down")
	}

	// At expiry the SVID is withheld: the Workload API refuses and SDS
	// stops serving the certificate.
	expired := waitIdentity(t, m, 5*time.Second, "expiry", func(id *Identity) bool { return id.SVID == nil })
	if time.Now().Before(leafOf(issued).NotAfter) {
		t.Fatal("the SVID was withheld before it expired")
	}
	if _, err := c.FetchX509SVID(ctx); err == nil || !strings.Contains(err.Error(), "no identity issued") {
		t.Fatalf("the Workload API served after expiry: %v", err)
	}
	if len(expired.Roots) == 0 {
		t.Fatal("the bundle was dropped with the SVID")
	}
	if _, err := c.FetchX509Bundles(ctx); err != nil {
		t.Fatalf("bundles must still be served: %v", err)
	}

	// SDS, asked afresh, serves the bundle but not the certificate.
	if got := fetchSecrets(t, ta); got[dataplane.SecretCert] != nil || got[dataplane.SecretRootCA] == nil {
		t.Fatalf("SDS after expiry served %v", slices.Collect(maps.Keys(got)))
	}

	// Retries keep going after expiry, with backoff growing to its bound.
	var fails []time.Time
	deadline := time.After(10 * time.Second)
	for len(fails) < 8 {
		select {
		case at := <-cp.renewFailed:
			fails = append(fails, at)
		case <-deadline:
			t.Fatalf("only %d renewal attempts while down", len(fails))
		}
	}
	var gaps []time.Duration
	for i := 1; i < len(fails); i++ {
		gaps = append(gaps, fails[i].Sub(fails[i-1]).Round(time.Millisecond))
	}
	// Only lower bounds are asserted: a timer never fires early, but a
	// loaded machine may run it late, so an upper bound would fail on
	// timing alone.
	t.Logf("retry gaps while down (50ms..400ms backoff): %v", gaps)
	if first := gaps[0]; first < 45*time.Millisecond {
		t.Fatalf("retries came faster than the 50ms minimum backoff: %v", gaps)
	}
	if last := gaps[len(gaps)-1]; last < 350*time.Millisecond {
		t.Fatalf("backoff did not grow to its 400ms bound: %v", gaps)
	}

	cp.setDown(false)
	renewed := waitIdentity(t, m, 5*time.Second, "renewal after the control plane came back", func(id *Identity) bool { return id.SVID != nil })
	if leafOf(renewed).Equal(leafOf(issued)) {
		t.Fatal("the expired SVID came back instead of a new one")
	}
	if svid, err := c.FetchX509SVID(ctx); err != nil || !svid.Certificates[0].Equal(leafOf(renewed)) {
		t.Fatalf("the Workload API does not serve the renewed SVID: %v", err)
	}
	if !strings.Contains(ta.out.String(), "expired; withholding") || !strings.Contains(ta.out.String(), "rotated SVID serial") {
		t.Fatalf("progress lines:\n%s", ta.out)
	}
}

// Only CSRs (and the token, once) go to the control plane: no request
// carries any private key the agent made, in any encoding.
func TestPrivateKeysNeverLeaveTheAgent(t *testing.T) {
	cp := newFakeCP(t, 2*time.Second)
	ta := startAgent(t, cp, nil)
	first := ta.Manager().Current()
	waitIdentity(t, ta.Manager(), 5*time.Second, "rotation", func(id *Identity) bool { return id.SVID != nil && id.SVID != first.SVID })
	c := newWorkloadClient(t, ta)
	if _, err := c.FetchJWTSVID(context.Background(), jwtsvid.Params{Audience: "aud"}); err != nil {
		t.Fatal(err)
	}
	ta.stop(t)

	ta.mu.Lock()
	keys := slices.Clone(ta.keys)
	ta.mu.Unlock()
	if len(keys) < 2 {
		t.Fatalf("%d keys published, want a rotation", len(keys))
	}
	csrs, tokens := 0, 0
	for _, msg := range cp.requests() {
		req, err := proto.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			for _, form := range keyBytes(t, k) {
				if bytes.Contains(req, form) {
					t.Fatalf("a request to the control plane carries a private key: %v", msg)
				}
			}
		}
		// Any message's csr and token fields, whatever its type.
		fields := msg.ProtoReflect().Descriptor().Fields()
		if fd := fields.ByName("token"); fd != nil && msg.ProtoReflect().Get(fd).String() != "" {
			tokens++
		}
		if fd := fields.ByName("csr"); fd != nil && msg.ProtoReflect().Has(fd) {
			csr, err := x509.ParseCertificateRequest(msg.ProtoReflect().Get(fd).Bytes())
			if err != nil || csr.CheckSignature() != nil {
				t.Fatalf("a csr field is not a signed CSR: %v", err)
			}
			if len(csr.URIs)+len(csr.DNSNames)+len(csr.IPAddresses)+len(csr.EmailAddresses) != 0 {
				t.Fatalf("the CSR names itself: %v", csr.URIs)
			}
			csrs++
		}
	}
	if tokens != 1 || csrs < 2 {
		t.Fatalf("%d requests with a token (want 1), %d CSRs (want ≥ 2)", tokens, csrs)
	}
	if strings.Contains(ta.out.String(), "emb1.test.secret") {
		t.Fatal("the join token was printed")
	}
}

// A refused token stops the agent with an error instead of retrying.
func TestAttestationRefused(t *testing.T) {
	cp := newFakeCP(t, time.Minute)
	a, err := New(Config{SocketDir: shortTempDir(t), ControlPlane: cp, Token: "emb1.wrong.token", Workload: "web-1.shop", MinBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = a.Run(ctx)
	if status.Code(err) != codes.Unauthenticated || strings.Contains(err.Error(), "emb1.wrong.token") {
		t.Fatalf("Run: %v", err)
	}
}

// An unreachable control plane at start-up is retried until it answers.
func TestAttestRetriesUntilReachable(t *testing.T) {
	cp := newFakeCP(t, time.Minute)
	cp.setDown(true)
	a, err := New(Config{SocketDir: shortTempDir(t), ControlPlane: cp, Token: "emb1.test.secret", Workload: "web-1.shop",
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for range 100 {
		if len(cp.requests()) >= 3 {
			break
		}
		select {
		case <-a.Serving():
			t.Fatal("served without attesting")
		case <-time.After(10 * time.Millisecond):
		}
	}
	cp.setDown(false)
	select {
	case <-a.Serving():
	case err := <-done:
		t.Fatal(err)
	case <-time.After(5 * time.Second):
		t.Fatal("did not attest once the control plane came back")
	}
}

// The workload is registered at once and refreshed; it is deregistered
// when the agent stops.
func TestRegistersAndDeregisters(t *testing.T) {
	cp := newFakeCP(t, time.Minute)
	ta := startAgent(t, cp, nil)
	for range 3 {
		select {
		case name := <-cp.registered:
			if name != "web-1" {
				t.Fatalf("registered %q", name)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no registration refresh within 5s")
		}
	}
	ta.stop(t)
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if !slices.Equal(cp.deregistered, []string{"web-1"}) {
		t.Fatalf("deregistered %v", cp.deregistered)
	}
	if _, err := os.Stat(ta.path(dataplane.WorkloadSocket)); !os.IsNotExist(err) {
		t.Fatalf("the socket outlived the agent: %v", err)
	}
}

func TestRenewDelayIsHalfTheLifetimeWithJitter(t *testing.T) {
	m := NewManager(ManagerConfig{})
	now := time.Now()
	svid := &x509svid.SVID{Certificates: []*x509.Certificate{{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(100 * time.Second)}}}
	lo, hi := time.Hour, time.Duration(0)
	for range 1000 {
		d := m.renewDelay(svid, now)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 45*time.Second || hi > 55*time.Second || hi-lo < 5*time.Second {
		t.Fatalf("renewal delays for 100s left ranged %s..%s, want within 45s..55s and spread", lo, hi)
	}
}

// A root the CA publishes before signing with it reaches the Workload API's
// bundle stream, SDS and bundle.pem through the periodic Bundle call.
func TestNewRootsArePublished(t *testing.T) {
	cp := newFakeCP(t, time.Minute)
	ta := startAgent(t, cp, func(c *Config) { c.BundleInterval = 50 * time.Millisecond })
	c := newWorkloadClient(t, ta)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	updates := make(chan int, 10)
	go c.WatchX509Bundles(ctx, bundleWatcher{updates})
	select {
	case n := <-updates:
		if n != 1 {
			t.Fatalf("%d roots before the rotation", n)
		}
	case <-ctx.Done():
		t.Fatal("no bundle")
	}

	next := newTestCA(t).root
	cp.mu.Lock()
	cp.nextRoot = next
	cp.mu.Unlock()
	select {
	case n := <-updates:
		if n != 2 {
			t.Fatalf("%d roots after the rotation, want 2", n)
		}
	case <-ctx.Done():
		t.Fatal("the new root did not reach the Workload API")
	}
	if got := fetchSecrets(t, ta)[dataplane.SecretRootCA].GetValidationContext().GetTrustedCa().GetInlineBytes(); !bytes.Contains(got, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: next.Raw})) {
		t.Fatal("SDS's ROOTCA lacks the new root")
	}
	if b, err := os.ReadFile(ta.path(dataplane.BundleFile)); err != nil || !bytes.Contains(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: next.Raw})) {
		t.Fatalf("%s lacks the new root: %v", dataplane.BundleFile, err)
	}
}

// bundleWatcher passes the number of roots of each update to a channel.
type bundleWatcher struct{ n chan int }

func (w bundleWatcher) OnX509BundlesUpdate(s *x509bundle.Set) {
	b, _ := s.GetX509BundleForTrustDomain(testTD)
	if b != nil {
		w.n <- len(b.X509Authorities())
	}
}
func (w bundleWatcher) OnX509BundlesWatchError(error) {}
