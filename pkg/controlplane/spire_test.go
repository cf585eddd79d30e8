package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/internal/workloadapitest"
	"embassy.dev/embassy/pkg/agent"
	"embassy.dev/embassy/pkg/client"
	"embassy.dev/embassy/pkg/dataplane"
	idclient "embassy.dev/embassy/pkg/identity/client"
	"embassy.dev/embassy/pkg/identity/wire"
	"embassy.dev/embassy/pkg/spiffe"

	"embassy.dev/embassy/internal/syncbuf"
)

const spireTD = "example.org"

// socketDir is a short directory for unix sockets (their paths are
// limited to about 100 bytes).
func socketDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "spire")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// spireMesh is a SPIRE stand-in with the control plane's SVID on its own
// socket, and a control plane using it.
type spireMesh struct {
	authority *workloadapitest.Authority
	cpSPIRE   *workloadapitest.Server
	cp        *ControlPlane
	dir       string
}

func startSPIREMesh(t *testing.T, logs *syncbuf.Buffer) *spireMesh {
	t.Helper()
	a, err := workloadapitest.NewAuthority(spireTD)
	if err != nil {
		t.Fatal(err)
	}
	dir := socketDir(t)
	td := spiffeid.RequireTrustDomainFromString(spireTD)
	srv, err := a.Serve(filepath.Join(dir, "cp.sock"), dataplane.ControlPlaneID(td), []string{"localhost"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	cp := startCP(t, t.TempDir(), logs, func(c *Config) {
		c.TrustDomain, c.SPIRESocket, c.SPIRETimeout = spireTD, srv.Path(), 10*time.Second
	})
	t.Cleanup(func() { cp.Close() })
	applyYAML(t, cp, meshShop)
	return &spireMesh{authority: a, cpSPIRE: srv, cp: cp, dir: dir}
}

// svidOf turns an SVID into the helpers' form.
func svidOf(s *x509svid.SVID) svid {
	crt := &tls.Certificate{PrivateKey: s.PrivateKey, Leaf: s.Certificates[0]}
	for _, c := range s.Certificates {
		crt.Certificate = append(crt.Certificate, c.Raw)
	}
	return svid{key: s.PrivateKey, cert: crt}
}

// dialXDSWith opens an ADS client presenting s and trusting roots for
// the control plane.
func dialXDSWith(t *testing.T, addr string, roots []*x509.Certificate, s svid) discovery.AggregatedDiscoveryServiceClient {
	t.Helper()
	td := spiffeid.RequireTrustDomainFromString(spireTD)
	src := &x509svid.SVID{ID: spiffeid.RequireFromString(s.cert.Leaf.URIs[0].String()), Certificates: []*x509.Certificate{s.cert.Leaf}, PrivateKey: s.key}
	cfg := tlsconfig.MTLSClientConfig(src, x509bundle.FromX509Authorities(td, roots), tlsconfig.AuthorizeID(dataplane.ControlPlaneID(td)))
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return discovery.NewAggregatedDiscoveryServiceClient(cc)
}

// servingLeaf is the certificate the xDS listener presents, verified as
// the control plane's SVID against roots.
func servingLeaf(t *testing.T, addr string, roots []*x509.Certificate) (*x509.Certificate, error) {
	t.Helper()
	td := spiffeid.RequireTrustDomainFromString(spireTD)
	cfg := tlsconfig.TLSClientConfig(x509bundle.FromX509Authorities(td, roots), tlsconfig.AuthorizeID(dataplane.ControlPlaneID(td)))
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// With SPIRE as the CA, the xDS listener presents SPIRE's SVID for the
// control plane, follows its rotation, and the trust bundle the API
// publishes is SPIRE's.
func TestSPIREIssuesTheControlPlanesCertificate(t *testing.T) {
	logs := &syncbuf.Buffer{}
	m := startSPIREMesh(t, logs)
	leaf, err := servingLeaf(t, m.cp.XDSAddr(), m.authority.Roots())
	if err != nil {
		t.Fatalf("the xDS listener does not verify against SPIRE's roots: %v", err)
	}
	if got, want := leaf.SerialNumber, m.cpSPIRE.Current().Certificates[0].SerialNumber; got.Cmp(want) != 0 {
		t.Fatalf("the xDS listener presents serial %x, SPIRE issued %x", got, want)
	}
	if _, err := servingLeaf(t, m.cp.XDSAddr(), m.cp.CA().Bundle()); err == nil {
		t.Fatal("the xDS listener's certificate verifies against the builtin CA: it is not SPIRE's")
	}

	next, err := m.cpSPIRE.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the xDS listener to present SPIRE's rotated SVID", func() bool {
		leaf, err := servingLeaf(t, m.cp.XDSAddr(), m.authority.Roots())
		return err == nil && leaf.SerialNumber.Cmp(next.Certificates[0].SerialNumber) == 0
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pemBytes, err := client.New("http://"+m.cp.APIAddr(), "").Bundle(ctx, "pem")
	if err != nil {
		t.Fatal(err)
	}
	roots, err := spiffe.ParseCertsPEM(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(roots, m.authority.Roots(), (*x509.Certificate).Equal) {
		t.Fatalf("/v1/bundle serves %d roots that are not SPIRE's", len(roots))
	}
	// JWT-SVIDs come from SPIRE too: /v1/bundle's JWKS is SPIRE's keys.
	want, err := m.authority.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "/v1/bundle?format=jwks to serve SPIRE's JWT keys", func() bool {
		got, err := client.New("http://"+m.cp.APIAddr(), "").Bundle(ctx, "jwks")
		return err == nil && sameJWTKeys(t, got, want)
	})
	infos := m.cp.roots()
	if len(infos) != len(roots) || infos[0].Source != CATypeSPIRE {
		t.Fatalf("the status roots are not SPIRE's: %+v", infos)
	}
	if !strings.Contains(logs.String(), "SPIRE is the mesh's CA") {
		t.Fatalf("the start-up lines do not say SPIRE is the CA:\n%s", logs)
	}
	// No Mesh names a CA, so --spire-socket contradicts nothing.
	if strings.Contains(logs.String(), "spec.ca.type") {
		t.Fatalf("a warning about the Mesh's CA type without a Mesh naming one:\n%s", logs)
	}
}

// sameJWTKeys says whether two JWKS documents hold the same key IDs.
func sameJWTKeys(t *testing.T, a, b []byte) bool {
	t.Helper()
	td := spiffeid.RequireTrustDomainFromString(spireTD)
	ba, err := jwtbundle.Parse(td, a)
	if err != nil {
		return false
	}
	bb, err := jwtbundle.Parse(td, b)
	if err != nil {
		t.Fatal(err)
	}
	ka, kb := ba.JWTAuthorities(), bb.JWTAuthorities()
	if len(ka) != len(kb) || len(ka) == 0 {
		return false
	}
	for id := range ka {
		if _, ok := kb[id]; !ok {
			return false
		}
	}
	return true
}

// With SPIRE as the CA, a workload's SPIRE SVID authenticates its xDS
// stream and its registration, limited to its own identity; the control
// plane refuses to issue SVIDs without spending the token; a certificate
// from another CA of the same trust domain is refused.
func TestSPIRESVIDsAuthenticateAgents(t *testing.T) {
	logs := &syncbuf.Buffer{}
	m := startSPIREMesh(t, logs)
	td := spiffeid.RequireTrustDomainFromString(spireTD)
	webID := spiffeid.RequireFromPath(td, "/ns/shop/sa/web")
	webSVID, err := m.authority.Issue(webID, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	web := svidOf(webSVID)
	roots := m.authority.Roots()

	ads := dialXDSWith(t, m.cp.XDSAddr(), roots, web)
	// The apply is published asynchronously.
	poll.Until(t, "a SPIRE SVID to get its own workload's clusters", func() bool {
		resp, err := fetchClusters(t, ads, "web-1.shop")
		return err == nil && len(resp.GetResources()) > 0
	})
	if _, err := fetchClusters(t, ads, "pay-1.shop"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a SPIRE SVID for sa web asking for pay-1's configuration: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := idclient.Dial(m.cp.XDSAddr(), roots, func() *tls.Certificate { return web.cert })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Register(ctx, "web-9", workloadSpec("127.0.0.9")); err != nil {
		t.Fatalf("registering with a SPIRE SVID: %v", err)
	}
	if _, err := m.cp.Store().Get(ctx, workloadKey("shop", "web-9")); err != nil {
		t.Fatalf("the registered workload is not stored: %v", err)
	}
	var seen bool
	for _, r := range m.cp.identity.Issuances() {
		if r.SPIFFEID == webID.String() && r.Workload == "web-9" && r.Serial == fmt.Sprintf("%x", webSVID.Certificates[0].SerialNumber) && r.Issuer != "" {
			seen = true
		}
	}
	if !seen {
		t.Fatalf("/v1/certificates does not show the SPIRE SVID web-9 registered with: %+v", m.cp.identity.Issuances())
	}

	// No X.509-SVIDs from embassy-cp, and the token is not spent.
	token, info, err := m.cp.Tokens().Create("shop", "web", "", time.Hour, true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Attest(ctx, &wire.AttestRequest{Token: token, Csr: newCSR(t, newKey(t))})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "--spire-socket") {
		t.Fatalf("attesting with SPIRE as the CA: %v", err)
	}
	for _, ti := range m.cp.Tokens().List() {
		if ti.ID == info.ID && ti.UsedAt != nil {
			t.Fatal("a refused attestation spent the token")
		}
	}
	if _, err := c.Renew(ctx, newCSR(t, newKey(t))); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("renewing with SPIRE as the CA: %v", err)
	}
	if _, err := c.MintJWT(ctx, []string{"pay"}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("minting a JWT-SVID with SPIRE as the CA: %v", err)
	}

	// A certificate from another CA of the same trust domain.
	rogue, err := workloadapitest.NewAuthority(spireTD)
	if err != nil {
		t.Fatal(err)
	}
	rogueSVID, err := rogue.Issue(webID, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rs := svidOf(rogueSVID)
	rc, err := idclient.Dial(m.cp.XDSAddr(), roots, func() *tls.Certificate { return rs.cert })
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	// Refused as a call, not at the handshake, so an agent can tell a
	// refusal from an unreachable control plane.
	if _, err := rc.Register(ctx, "web-8", workloadSpec("127.0.0.8")); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("a certificate from a CA that is not SPIRE registering a workload: %v", err)
	}
	if _, err := m.cp.Store().Get(ctx, workloadKey("shop", "web-8")); err == nil {
		t.Fatal("the refused registration was stored")
	}

	// The builtin CA's key is still in the store, but its roots are not
	// trusted any more.
	old, err := m.cp.CA().SignCSR(newCSR(t, web.key), webID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	oldCert := &tls.Certificate{PrivateKey: web.key, Leaf: old[0], Certificate: [][]byte{old[0].Raw}}
	oc, err := idclient.Dial(m.cp.XDSAddr(), roots, func() *tls.Certificate { return oldCert })
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	if _, err := oc.Register(ctx, "web-7", workloadSpec("127.0.0.7")); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("an SVID of the builtin CA with SPIRE as the CA: %v", err)
	}

	// SPIRE may issue the control plane's ID to whatever matches its
	// entry's selectors; that ID is no workload's.
	cpSVID, err := m.authority.Issue(dataplane.ControlPlaneID(td), nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cs := svidOf(cpSVID)
	cc, err := idclient.Dial(m.cp.XDSAddr(), roots, func() *tls.Certificate { return cs.cert })
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if _, err := cc.Register(ctx, "evil", workloadSpec("127.0.0.6")); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("the control plane's SVID registering a workload: %v", err)
	}
	if _, err := fetchClusters(t, dialXDSWith(t, m.cp.XDSAddr(), roots, cs), "evil.embassy-system"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("the control plane's SVID asking for xDS: %v", err)
	}
}

// embassy-agent with a SPIFFE Workload API socket registers its workload
// with the SPIRE SVID it takes from there, and serves it.
func TestAgentWithSPIRERegistersThroughTheControlPlane(t *testing.T) {
	logs := &syncbuf.Buffer{}
	m := startSPIREMesh(t, logs)
	td := spiffeid.RequireTrustDomainFromString(spireTD)
	wl, err := m.authority.Serve(filepath.Join(m.dir, "web.sock"), spiffeid.RequireFromPath(td, "/ns/shop/sa/web"), nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer wl.Close()
	a, err := agent.New(agent.Config{
		SocketDir: filepath.Join(m.dir, "agent"),
		Dial: func(roots []*x509.Certificate, cert func() *tls.Certificate) (agent.ControlPlaneConn, error) {
			return idclient.Dial(m.cp.XDSAddr(), roots, cert)
		},
		SPIFFESocket: wl.Path(),
		Workload:     "web-5.shop",
		Spec:         workloadSpec("127.0.0.5"),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	}()
	poll.Until(t, "the agent to register web-5 with its SPIRE SVID", func() bool {
		_, err := m.cp.Store().Get(context.Background(), workloadKey("shop", "web-5"))
		return err == nil
	})
	pemBytes, err := os.ReadFile(filepath.Join(m.dir, "agent", "svid.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(pemBytes)
	if blk == nil {
		t.Fatal("svid.pem holds no certificate")
	}
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if leaf.SerialNumber.Cmp(wl.Current().Certificates[0].SerialNumber) != 0 {
		t.Fatalf("the agent serves serial %x, SPIRE issued %x", leaf.SerialNumber, wl.Current().Certificates[0].SerialNumber)
	}
}

// A start with SPIRE as the CA fails, naming the fix, when SPIRE does not
// answer, does not issue the control plane's SPIFFE ID, or serves another
// trust domain; and when TLS is off.
func TestSPIREStartErrors(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString(spireTD)
	a, err := workloadapitest.NewAuthority(spireTD)
	if err != nil {
		t.Fatal(err)
	}
	other, err := workloadapitest.NewAuthority("other.org")
	if err != nil {
		t.Fatal(err)
	}
	dir := socketDir(t)
	wrongID, err := a.Serve(filepath.Join(dir, "web.sock"), spiffeid.RequireFromPath(td, "/ns/shop/sa/web"), nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer wrongID.Close()
	wrongTD, err := other.Serve(filepath.Join(dir, "other.sock"), dataplane.ControlPlaneID(spiffeid.RequireTrustDomainFromString("other.org")), nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer wrongTD.Close()

	for _, tc := range []struct {
		name, socket string
		insecure     bool
		want         []string
	}{
		{"no SPIRE agent", filepath.Join(dir, "absent.sock"), false, []string{"absent.sock", "spiffe://example.org/ns/embassy-system/sa/embassy-cp"}},
		{"another SPIFFE ID", wrongID.Path(), false, []string{"spiffe://example.org/ns/shop/sa/web", "register embassy-cp in SPIRE"}},
		{"another trust domain", wrongTD.Path(), false, []string{"spiffe://other.org/ns/embassy-system/sa/embassy-cp", "spiffe://example.org/ns/embassy-system/sa/embassy-cp"}},
		{"insecure xDS", wrongID.Path(), true, []string{"--insecure-xds", "--spire-socket"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp, err := Start(context.Background(), Config{
				DataDir: t.TempDir(), XDSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", TrustDomain: spireTD,
				SPIRESocket: tc.socket, SPIRETimeout: 3 * time.Second, InsecureXDS: tc.insecure,
			})
			if err == nil {
				cp.Close()
				t.Fatal("started")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("the error does not name %q: %v", w, err)
				}
			}
		})
	}
}

// A Mesh of ca.type spire makes SPIRE the CA at start, from its
// socketPath, without --spire-socket.
func TestStoredSPIREMeshSelectsSPIRE(t *testing.T) {
	a, err := workloadapitest.NewAuthority(spireTD)
	if err != nil {
		t.Fatal(err)
	}
	td := spiffeid.RequireTrustDomainFromString(spireTD)
	srv, err := a.Serve(filepath.Join(socketDir(t), "cp.sock"), dataplane.ControlPlaneID(td), nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dataDir := t.TempDir()
	logs := &syncbuf.Buffer{}
	cp := startCP(t, dataDir, logs, func(c *Config) { c.TrustDomain = spireTD })
	applyYAML(t, cp, fmt.Sprintf(`apiVersion: embassy.dev/v1alpha1
kind: Mesh
metadata:
  name: default
spec:
  trustDomain: %s
  ca:
    type: spire
    socketPath: %s
`, spireTD, srv.Path()))
	poll.Until(t, "a warning that the CA changes at restart", func() bool {
		return strings.Contains(logs.String(), "uses its own CA until it restarts")
	})
	if _, err := servingLeaf(t, cp.XDSAddr(), a.Roots()); err == nil {
		t.Fatal("SPIRE took over before a restart")
	}
	cp.Close()

	cp = startCP(t, dataDir, logs)
	defer cp.Close()
	if _, err := servingLeaf(t, cp.XDSAddr(), a.Roots()); err != nil {
		t.Fatalf("after a restart with the stored spire Mesh, the xDS listener is not SPIRE's: %v", err)
	}
}

// Readiness fails once the control plane's SVID from SPIRE has expired
// without a renewal, naming SPIRE's socket.
func TestReadinessFollowsTheSPIRESVID(t *testing.T) {
	m := startSPIREMesh(t, &syncbuf.Buffer{})
	if err := m.cp.readyErr(); err != nil {
		t.Fatalf("ready with a fresh SVID from SPIRE: %v", err)
	}
	leaf := m.cpSPIRE.Current().Certificates[0]
	err := m.cp.spire.healthy(leaf.NotAfter.Add(time.Second))
	if err == nil || !strings.Contains(err.Error(), m.cpSPIRE.Path()) {
		t.Fatalf("readiness after the SVID expired: %v", err)
	}
}
