package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/identity/client"
	"embassy.dev/embassy/pkg/identity/service"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"

	"embassy.dev/embassy/internal/idtest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/internal/syncbuf"
)

// The identity client is the agent's ControlPlane.
var _ ControlPlane = (*client.Client)(nil)

// realCP is embassy-cp's identity service, with its real CA, join tokens
// and TLS, on a loopback gRPC server.
type realCP struct {
	st     *store.Memory
	ca     *identity.CA
	tokens *identity.Tokens
	addr   string
}

func startRealCP(t *testing.T, svidTTL string) *realCP {
	t.Helper()
	id := idtest.New(t, "example.org", nil)
	r := &realCP{st: id.Store, ca: id.CA, tokens: id.Tokens}
	svc, err := service.New(service.Config{
		CA: r.ca, Tokens: r.tokens, Store: r.st,
		Mesh: func() resource.MeshSpec { return resource.MeshSpec{SVIDTTL: resource.Duration(svidTTL)} },
	})
	if err != nil {
		t.Fatal(err)
	}
	srvTLS, err := service.NewServerTLS(r.ca, "127.0.0.1", nil, 0, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = lis.Addr().String()
	g := grpc.NewServer(grpc.Creds(credentials.NewTLS(srvTLS.Config())))
	svc.Register(g)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { svc.Run(ctx); done <- struct{}{} }()
	go func() { g.Serve(lis); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); g.Stop(); <-done; <-done })
	return r
}

// The agent attests with a real join token against the real identity
// service over TLS, serves the SVID to go-spiffe's client, rotates a 10s
// SVID over mTLS, registers its Workload and deregisters on stop.
func TestAgentAgainstTheIdentityService(t *testing.T) {
	cp := startRealCP(t, "10s")
	token, _, err := cp.tokens.Create("shop", "web", "web-1", time.Hour, true)
	if err != nil {
		t.Fatal(err)
	}
	dir := shortTempDir(t)
	out := &syncbuf.Buffer{}
	a, err := New(Config{
		SocketDir: dir, Token: token, Workload: "web-1.shop",
		Dial: func(roots []*x509.Certificate, cert func() *tls.Certificate) (ControlPlaneConn, error) {
			return client.Dial(cp.addr, roots, cert)
		},
		TrustBundle:      cp.ca.Bundle(),
		Spec:             resource.WorkloadSpec{Address: "10.0.0.7", Services: []string{"web"}, Ports: []resource.WorkloadPort{{Name: "http", Port: 8080}}},
		RegisterInterval: 100 * time.Millisecond, Out: out, Logger: hclog.New(&hclog.LoggerOptions{Output: out, Level: hclog.Debug}),
		MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	cancel, done := runUntil(t, a.Run, a.Serving(), "the agent to serve")
	want := spiffeid.RequireFromString("spiffe://example.org/ns/shop/sa/web")

	wl := newWorkloadClient(t, &testAgent{dir: dir})
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer wcancel()
	x, err := wl.FetchX509Context(wctx)
	if err != nil {
		t.Fatal(err)
	}
	fetched := time.Now()
	first := x.DefaultSVID()
	if id, _, err := x509svid.Verify(first.Certificates, x.Bundles); err != nil || id != want {
		t.Fatalf("x509svid.Verify: %s, %v", id, err)
	}

	// Rotation over mTLS, seen by go-spiffe's watch.
	w := x509Watcher{updates: make(chan *workloadapi.X509Context, 10)}
	go wl.WatchX509Context(wctx, w)
	var rotated *x509svid.SVID
	for rotated == nil {
		select {
		case x := <-w.updates:
			if s := x.DefaultSVID(); !s.Certificates[0].Equal(first.Certificates[0]) {
				if _, _, err := x509svid.Verify(s.Certificates, x.Bundles); err != nil {
					t.Fatalf("the rotated SVID does not verify: %v", err)
				}
				rotated = s
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no rotation of a 10s SVID within 10s; agent output:\n%s", out)
		}
	}
	t.Logf("the real control plane's 10s SVID rotated after %s", time.Since(fetched).Round(10*time.Millisecond))

	// JWT-SVIDs are minted by the control plane and validate against the
	// JWT bundle it serves.
	jwt, err := wl.FetchJWTSVID(wctx, jwtsvid.Params{Audience: "payments"})
	if err != nil || jwt.ID != want {
		t.Fatalf("FetchJWTSVID: %v, %v", jwt, err)
	}
	if v, err := wl.ValidateJWTSVID(wctx, jwt.Marshal(), "payments"); err != nil || v.ID != want {
		t.Fatalf("ValidateJWTSVID: %v, %v", v, err)
	}

	// The Workload is registered in the namespace the certificate proves.
	key := resource.Key{Kind: resource.KindWorkload, Namespace: "shop", Name: "web-1"}
	r, err := cp.st.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("the Workload was not registered: %v", err)
	}
	if spec := r.Spec.(*resource.WorkloadSpec); spec.ServiceAccount != "web" || spec.Address != "10.0.0.7" {
		t.Fatalf("registered %+v", spec)
	}

	cancel()
	poll.Returned(t, "the stopped agent", done)
	if _, err := cp.st.Get(context.Background(), key); err == nil {
		t.Fatal("the Workload outlived the agent's clean shutdown")
	}
}
