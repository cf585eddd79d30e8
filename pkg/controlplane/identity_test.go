package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/client"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/identity"
	idclient "embassy.dev/embassy/pkg/identity/client"
	"embassy.dev/embassy/pkg/identity/wire"
	"embassy.dev/embassy/pkg/store"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/internal/syncbuf"
)

func TestXDSStreamWithoutACertificateIsUnauthenticated(t *testing.T) {
	logs := &syncbuf.Buffer{}
	cp := startCP(t, t.TempDir(), logs)
	defer cp.Close()
	applyYAML(t, cp, meshShop)
	_, err := fetchClusters(t, dialXDS(t, cp, nil), "web-1.shop")
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "present the workload's SVID") || !strings.Contains(err.Error(), "--insecure-xds") {
		t.Fatalf("xDS without a client certificate: %v", err)
	}
}

func TestXDSServesOnlyTheCertificatesOwnWorkload(t *testing.T) {
	logs := &syncbuf.Buffer{}
	cp := startCP(t, t.TempDir(), logs)
	defer cp.Close()
	applyYAML(t, cp, meshShop)
	web, _ := attest(t, cp, "shop", "web")
	ads := dialXDS(t, cp, &web)

	resp, err := fetchClusters(t, ads, "pay-1.shop")
	if status.Code(err) != codes.PermissionDenied || resp != nil {
		t.Fatalf("identity web asking for pay-1's configuration: %v, %v", resp, err)
	}
	for _, want := range []string{`"pay-1.shop" is workload shop/pay-1 with identity`, "spiffe://embassy.local/ns/shop/sa/pay", "spiffe://embassy.local/ns/shop/sa/web"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("the refusal does not name %s: %v", want, err)
		}
	}
	if _, err := fetchClusters(t, ads, "web-1.billing"); status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), `namespace "billing"`) {
		t.Fatalf("identity web asking for another namespace: %v", err)
	}
	for _, p := range cp.XDS().Proxies() {
		t.Fatalf("a refused node is connected: %s", p.ID)
	}

	resp, err = fetchClusters(t, ads, "web-1.shop")
	if err != nil {
		t.Fatalf("identity web asking for its own configuration: %v", err)
	}
	if len(resp.GetResources()) == 0 {
		t.Fatal("the own workload got no clusters")
	}
	// A node with no Workload yet is allowed within its namespace.
	if _, err := fetchClusters(t, ads, "web-2.shop"); err != nil {
		t.Fatalf("a not yet registered node of the own namespace: %v", err)
	}
}

func TestIdentityIsOffWithInsecureXDS(t *testing.T) {
	logs := &syncbuf.Buffer{}
	cp := startCP(t, t.TempDir(), logs, func(c *Config) { c.InsecureXDS = true })
	defer cp.Close()
	if !strings.Contains(logs.String(), "WARNING: --insecure-xds") {
		t.Fatalf("no warning for plaintext xDS:\n%s", logs.String())
	}
	applyYAML(t, cp, meshShop)
	// Plaintext ADS works for any node...
	_, err := fetchClustersPlain(t, cp.XDSAddr(), "pay-1.shop")
	if err != nil {
		t.Fatalf("plaintext xDS: %v", err)
	}
	// ...and no identity API is served over plaintext.
	if err := attestPlain(t, cp.XDSAddr()); status.Code(err) != codes.Unimplemented {
		t.Fatalf("identity API over plaintext xDS: %v", err)
	}
}

func TestCARestartKeepsTheRootAndEarlierSVIDs(t *testing.T) {
	dir := t.TempDir()
	logs := &syncbuf.Buffer{}
	cp := startCP(t, dir, logs)
	web, _ := attest(t, cp, "shop", "web")
	roots := cp.CA().Roots()
	if err := cp.Close(); err != nil {
		t.Fatal(err)
	}

	cp = startCP(t, dir, logs)
	defer cp.Close()
	again := cp.CA().Roots()
	if len(again) != len(roots) || again[0].Fingerprint != roots[0].Fingerprint {
		t.Fatalf("the root changed across a restart: %v → %v", roots, again)
	}
	if _, _, err := x509svid.Verify([]*x509.Certificate{web.cert.Leaf}, cp.CA()); err != nil {
		t.Fatalf("an SVID from before the restart does not verify: %v", err)
	}
	// The agent renews over TLS with its earlier certificate.
	c := dialIdentity(t, cp, web.cert)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Renew(ctx, newCSR(t, web.key))
	if err != nil || resp.SpiffeId != "spiffe://embassy.local/ns/shop/sa/web" {
		t.Fatalf("renew after a restart: %v %+v", err, resp)
	}
}

func TestAgentRegistrationLapsesThroughTheControlPlane(t *testing.T) {
	logs := &syncbuf.Buffer{}
	cp := startCP(t, t.TempDir(), logs)
	defer cp.Close()
	applyYAML(t, cp, meshShop)
	web, _ := attest(t, cp, "shop", "web")
	c := dialIdentity(t, cp, web.cert)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	spec := workloadSpec("127.0.0.9")
	if _, err := c.Register(ctx, "web-9", spec); err != nil {
		t.Fatalf("register: %v", err)
	}
	// Registered, the workload's own node gets its configuration.
	if _, err := fetchClusters(t, dialXDS(t, cp, &web), "web-9.shop"); err != nil {
		t.Fatalf("the registered workload's xDS: %v", err)
	}
	poll.Until(t, "the lapsed registration to disappear", func() bool {
		_, err := cp.Store().Get(context.Background(), workloadKey("shop", "web-9"))
		return err != nil
	})
}

func TestTokensNeverReachTheLogs(t *testing.T) {
	logs := &syncbuf.Buffer{}
	dir := t.TempDir()
	cp := startCP(t, dir, logs)
	defer cp.Close()
	admin, _, _, err := api.EnsureAdminToken(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := client.New("http://"+cp.APIAddr(), "").CreateToken(ctx, apiwire.TokenCreateRequest{Namespace: "shop", ServiceAccount: "web"}); err == nil {
		t.Fatal("a token was created without the admin token")
	}
	created, err := client.New("http://"+cp.APIAddr(), admin).CreateToken(ctx, apiwire.TokenCreateRequest{Namespace: "shop", ServiceAccount: "web", SingleUse: true})
	if err != nil {
		t.Fatal(err)
	}
	_, used := attest(t, cp, "shop", "web")
	// A spent token, a forged one, and the created one used twice.
	c := dialIdentity(t, cp, nil)
	key := newKey(t)
	for _, tok := range []string{used, created.Token, created.Token, created.Token + "x"} {
		_, _ = c.Attest(ctx, &wire.AttestRequest{Token: tok, Csr: newCSR(t, key)})
	}
	out := logs.String()
	for _, secret := range []string{used, created.Token, admin} {
		if strings.Contains(out, secret) {
			t.Fatalf("a secret appears in the log:\n%s", out)
		}
	}
	if !strings.Contains(out, "attestation refused") || !strings.Contains(out, created.Info.ID) {
		t.Fatalf("the log does not record the refusals and the token's ID:\n%s", out)
	}
}

func TestBundleOverTheAPIVerifiesTheXDSListener(t *testing.T) {
	logs := &syncbuf.Buffer{}
	cp := startCP(t, t.TempDir(), logs, func(c *Config) { c.XDSServerNames = []string{"cp.example.internal", "10.1.2.3"} })
	defer cp.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pemBytes, err := client.New("http://"+cp.APIAddr(), "").Bundle(ctx, "pem")
	if err != nil {
		t.Fatal(err)
	}
	var roots []*x509.Certificate
	for blk, rest := pem.Decode(pemBytes); blk != nil; blk, rest = pem.Decode(rest) {
		r, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, r)
	}
	c, err := idclient.Dial(cp.XDSAddr(), roots, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, err := c.Bundle(ctx)
	if err != nil || b.TrustDomain != "embassy.local" {
		t.Fatalf("bundle over the identity API with the API's bundle: %v %+v", err, b)
	}
	leaf, err := cp.serverTLS.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.Leaf.VerifyHostname("cp.example.internal"); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"127.0.0.1", "::1", "localhost", "10.1.2.3"} {
		if err := leaf.Leaf.VerifyHostname(h); err != nil {
			t.Fatalf("the xDS certificate lacks %s: %v", h, err)
		}
	}
}

// A client certificate that does not verify (another CA's, or expired) is
// refused per call with Unauthenticated, not by failing the handshake, so
// an agent can tell a refusal it must act on from an unreachable control
// plane.
func TestUnverifiableClientCertificatesAreRefusedAsCalls(t *testing.T) {
	logs := &syncbuf.Buffer{}
	cp := startCP(t, t.TempDir(), logs)
	defer cp.Close()
	td := cp.CA().TrustDomain()
	id, err := dataplane.WorkloadID(td, "shop", "web")
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	// The same CA, read from the control plane's store with a clock an
	// hour behind, signs a certificate that has already expired.
	hourAgo := func() time.Time { return time.Now().Add(-time.Hour) }
	past, err := identity.LoadOrCreateCA(cp.Store().(store.Secrets), identity.CAConfig{TrustDomain: td.Name()}, hourAgo)
	if err != nil {
		t.Fatal(err)
	}
	short, err := past.SignCSR(newCSR(t, key), id, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := short[0].CheckSignatureFrom(cp.CA().Bundle()[0]); err != nil || time.Now().Before(short[0].NotAfter) {
		t.Fatalf("want a certificate of the control plane's CA that has expired: %v, not after %s", err, short[0].NotAfter)
	}
	other, err := identity.LoadOrCreateCA(store.NewMemory(), identity.CAConfig{TrustDomain: td.Name()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.SignCSR(newCSR(t, key), id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for name, leaf := range map[string]*x509.Certificate{"expired": short[0], "another CA's": foreign[0]} {
		crt := &tls.Certificate{PrivateKey: key, Leaf: leaf, Certificate: [][]byte{leaf.Raw}}
		c, err := idclient.Dial(cp.XDSAddr(), cp.CA().Bundle(), func() *tls.Certificate { return crt })
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = c.Renew(ctx, newCSR(t, newKey(t)))
		cancel()
		c.Close()
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("renewing with an %s certificate: %v, want Unauthenticated", name, err)
		}
	}
}
