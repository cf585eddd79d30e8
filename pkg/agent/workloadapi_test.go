package agent

import (
	"context"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/internal/grpctest"
	"embassy.dev/embassy/pkg/dataplane"
)

func newWorkloadClient(t *testing.T, ta *testAgent) *workloadapi.Client {
	t.Helper()
	c, err := workloadapi.New(context.Background(), workloadapi.WithAddr("unix://"+ta.path(dataplane.WorkloadSocket)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// x509Watcher passes each update of go-spiffe's watch to a channel.
type x509Watcher struct{ updates chan *workloadapi.X509Context }

func (w x509Watcher) OnX509ContextUpdate(c *workloadapi.X509Context) { w.updates <- c }
func (w x509Watcher) OnX509ContextWatchError(error)                  {}

// go-spiffe's own client fetches an SVID that verifies against the bundle
// it fetched with it, and its watch sees the agent rotate a 10s SVID at
// about half its lifetime.
func TestWorkloadAPIServesAndRotatesX509SVID(t *testing.T) {
	ta := startAgent(t, newFakeCP(t, 10*time.Second), nil)
	c := newWorkloadClient(t, ta)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	x, err := c.FetchX509Context(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fetched := time.Now() // just after the agent attested
	svid := x.DefaultSVID()
	if svid.ID != testID {
		t.Fatalf("SVID for %s, want %s", svid.ID, testID)
	}
	id, _, err := x509svid.Verify(svid.Certificates, x.Bundles)
	if err != nil || id != testID {
		t.Fatalf("x509svid.Verify: %v, %v", id, err)
	}
	if !publicKeyEqual(svid.Certificates[0].PublicKey, svid.PrivateKey.Public()) {
		t.Fatal("the served key does not match the served certificate")
	}
	issued := svid.Certificates[0]

	w := x509Watcher{updates: make(chan *workloadapi.X509Context, 10)}
	go c.WatchX509Context(ctx, w)
	deadline := time.After(15 * time.Second) // a liveness bound only
	for {
		select {
		case x := <-w.updates:
			s := x.DefaultSVID()
			if s.Certificates[0].SerialNumber.Cmp(issued.SerialNumber) == 0 {
				continue
			}
			if _, _, err := x509svid.Verify(s.Certificates, x.Bundles); err != nil {
				t.Fatalf("the rotated SVID does not verify: %v", err)
			}
			if !publicKeyEqual(s.Certificates[0].PublicKey, s.PrivateKey.Public()) {
				t.Fatal("the rotated key does not match the rotated certificate")
			}
			if publicKeyEqual(s.PrivateKey.Public(), svid.PrivateKey.Public()) {
				t.Fatal("the rotation kept the old key")
			}
			after := time.Since(fetched)
			t.Logf("rotated after %s of a 10s SVID", after.Round(10*time.Millisecond))
			// Only the early side is behaviour: a loaded machine can
			// rotate late, never before half of the SVID's life.
			if after < 4*time.Second {
				t.Fatalf("rotated after %s; want no earlier than about 5s (half of 10s, -10%%)", after)
			}
			return
		case <-deadline:
			t.Fatal("go-spiffe's watch saw no rotated SVID within 15s")
		}
	}
}

func TestWorkloadAPIBundlesAndJWT(t *testing.T) {
	ta := startAgent(t, newFakeCP(t, time.Minute), nil)
	c := newWorkloadClient(t, ta)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	bundles, err := c.FetchX509Bundles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundles.GetX509BundleForTrustDomain(testTD)
	if err != nil || len(b.X509Authorities()) != 1 || !b.X509Authorities()[0].Equal(ta.cp.ca.root) {
		t.Fatalf("X.509 bundle: %v, %v", b, err)
	}

	// JWT bundles arrive after the first Bundle call; wait for them.
	waitIdentity(t, ta.Manager(), 5*time.Second, "JWT bundle", func(id *Identity) bool { return len(id.JWKS) > 0 })
	jb, err := c.FetchJWTBundles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := jb.GetJWTBundleForTrustDomain(testTD); err != nil || !b.HasJWTAuthority("k1") {
		t.Fatalf("JWT bundle: %v, %v", b, err)
	}

	token, err := c.FetchJWTSVID(ctx, jwtsvid.Params{Audience: "payments"})
	if err != nil {
		t.Fatal(err)
	}
	if token.ID != testID {
		t.Fatalf("JWT-SVID for %s", token.ID)
	}
	if _, err := jwtsvid.ParseAndValidate(token.Marshal(), jb, []string{"payments"}); err != nil {
		t.Fatalf("the JWT-SVID does not validate with the served JWT bundle: %v", err)
	}
	valid, err := c.ValidateJWTSVID(ctx, token.Marshal(), "payments")
	if err != nil || valid.ID != testID || valid.Claims["sub"] != testID.String() {
		t.Fatalf("ValidateJWTSVID: %+v, %v", valid, err)
	}
	if _, err := c.ValidateJWTSVID(ctx, token.Marshal(), "someone-else"); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a JWT-SVID for another audience validated: %v", err)
	}
}

// Every call without the security header is refused, as SPIRE does; so is
// a JWT-SVID request without an audience.
func TestWorkloadAPIRefusesCallsWithoutTheHeader(t *testing.T) {
	ta := startAgent(t, newFakeCP(t, time.Minute), nil)
	wl := workload.NewSpiffeWorkloadAPIClient(grpctest.Dial(t, "unix://"+ta.path(dataplane.WorkloadSocket)))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	check := func(what string, err error) {
		t.Helper()
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s without the header: %v, want InvalidArgument", what, err)
		}
	}
	s, err := wl.FetchX509SVID(ctx, &workload.X509SVIDRequest{})
	if err == nil {
		_, err = s.Recv()
	}
	check("FetchX509SVID", err)
	b, err := wl.FetchX509Bundles(ctx, &workload.X509BundlesRequest{})
	if err == nil {
		_, err = b.Recv()
	}
	check("FetchX509Bundles", err)
	j, err := wl.FetchJWTBundles(ctx, &workload.JWTBundlesRequest{})
	if err == nil {
		_, err = j.Recv()
	}
	check("FetchJWTBundles", err)
	_, err = wl.FetchJWTSVID(ctx, &workload.JWTSVIDRequest{Audience: []string{"a"}})
	check("FetchJWTSVID", err)
	_, err = wl.ValidateJWTSVID(ctx, &workload.ValidateJWTSVIDRequest{Audience: "a", Svid: "x"})
	check("ValidateJWTSVID", err)

	hctx := metadata.AppendToOutgoingContext(ctx, SecurityHeader, "true")
	if _, err := wl.FetchJWTSVID(hctx, &workload.JWTSVIDRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("FetchJWTSVID without an audience: %v, want InvalidArgument", err)
	}
	if _, err := wl.FetchJWTSVID(hctx, &workload.JWTSVIDRequest{Audience: []string{"a"}, SpiffeId: "spiffe://test.embassy/ns/shop/sa/other"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("FetchJWTSVID for another identity: %v, want PermissionDenied", err)
	}
	s, err = wl.FetchX509SVID(hctx, &workload.X509SVIDRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := s.Recv(); err != nil || len(resp.Svids) != 1 {
		t.Fatalf("with the header: %v, %v", resp, err)
	}
}
