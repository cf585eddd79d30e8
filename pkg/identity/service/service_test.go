package service

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/identity/wire"
	"embassy.dev/embassy/pkg/resource"
)

func TestAttestIssuesTheTokensIdentity(t *testing.T) {
	e := newEnv(t)
	a := e.agent()
	id := e.attest(a, e.token("shop", "a", "", time.Hour, true), "")
	if id.String() != "spiffe://example.org/ns/shop/sa/a" {
		t.Fatalf("attested as %s", id)
	}
	got, _, err := x509svid.Verify([]*x509.Certificate{a.current().Leaf}, e.ca)
	if err != nil || got != id {
		t.Fatalf("the SVID does not verify against the CA's bundle as %s: %v (%s)", id, err, got)
	}
	if ttl := time.Until(a.current().Leaf.NotAfter); ttl > time.Hour || ttl < 50*time.Minute {
		t.Fatalf("SVID lifetime %s, want the default svidTTL of 1h", ttl)
	}
	recs := e.svc.Issuances()
	if len(recs) != 1 || recs[0].SPIFFEID != id.String() || recs[0].Serial != serialOf(a.current().Leaf) {
		t.Fatalf("issuance records: %+v", recs)
	}
}

func TestATokenCannotObtainAnotherIdentity(t *testing.T) {
	e := newEnv(t)
	a := e.agent()
	_, err := a.c.Attest(ctx(t), &wire.AttestRequest{Token: e.token("shop", "a", "", time.Hour, false), Csr: a.csr("spiffe://example.org/ns/shop/sa/b")})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), `may only hold "spiffe://example.org/ns/shop/sa/a"`) {
		t.Fatalf("a CSR for sa=b with a token for sa=a: %v", err)
	}
}

func TestRefusedTokens(t *testing.T) {
	e := newEnv(t)
	a := e.agent()
	try := func(token string) error {
		_, err := a.c.Attest(ctx(t), &wire.AttestRequest{Token: token, Csr: a.csr("")})
		if err != nil && token != "" && strings.Contains(err.Error(), token) {
			t.Fatalf("the refusal echoes the token: %v", err)
		}
		return err
	}

	used := e.token("shop", "a", "", time.Hour, true)
	if err := try(used); err != nil {
		t.Fatalf("first use of a single-use token: %v", err)
	}
	if err := try(used); status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("second use of a single-use token: %v", err)
	}

	expiring := e.token("shop", "a", "", time.Minute, false)
	e.clock.advance(2 * time.Minute)
	if err := try(expiring); status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token: %v", err)
	}

	revoked, info, err := e.tokens.Create("shop", "a", "", time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.tokens.Revoke(info.ID); err != nil {
		t.Fatal(err)
	}
	if err := try(revoked); status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked token: %v", err)
	}

	forged := revoked[:len(revoked)-4] + "AAAA"
	if err := try(forged); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("token with a wrong secret: %v", err)
	}
	if err := try(""); status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "embassyctl token create") {
		t.Fatalf("no token: %v", err)
	}
	for _, tok := range []string{used, expiring, revoked, forged} {
		if strings.Contains(e.logs.String(), tok) {
			t.Fatal("a join token appears in the log")
		}
	}
}

func TestABadCSRDoesNotUseUpASingleUseToken(t *testing.T) {
	e := newEnv(t)
	a := e.agent()
	tok := e.token("shop", "a", "", time.Hour, true)
	_, err := a.c.Attest(ctx(t), &wire.AttestRequest{Token: tok, Csr: []byte("-----BEGIN CERTIFICATE REQUEST-----")})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "not PEM") {
		t.Fatalf("a PEM CSR: %v", err)
	}
	e.attest(a, tok, "")
}

// An attestation refused for what the token's identity decides (another
// workload, a CSR naming another identity) leaves a single-use token
// unused.
func TestARefusedAttestationDoesNotUseUpASingleUseToken(t *testing.T) {
	e := newEnv(t)
	a := e.agent()
	tok := e.token("shop", "a", "web-1", time.Hour, true)
	if _, err := a.c.Attest(ctx(t), &wire.AttestRequest{Token: tok, Csr: a.csr(""), Workload: "web-2"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a token for web-1 attesting web-2: %v", err)
	}
	other := spiffeid.RequireFromString("spiffe://" + e.ca.TrustDomain().Name() + "/ns/shop/sa/b")
	if _, err := a.c.Attest(ctx(t), &wire.AttestRequest{Token: tok, Csr: a.csr(other.String()), Workload: "web-1"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a CSR for another identity: %v", err)
	}
	e.attest(a, tok, "web-1")
}

func TestRenewNeedsACertificateAndKeepsTheIdentity(t *testing.T) {
	e := newEnv(t)
	a := e.agent()
	if _, err := a.c.Renew(ctx(t), a.csr("")); status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "--insecure-xds") {
		t.Fatalf("renew without a certificate: %v", err)
	}
	id := e.attest(a, e.token("shop", "a", "", time.Hour, true), "web-1")
	first := a.current().Leaf
	resp, err := a.c.Renew(ctx(t), a.csr(""))
	if err != nil {
		t.Fatalf("renew: %v", err)
	}
	if got := a.take(resp, e.ca.Bundle()); got != id {
		t.Fatalf("renewed as %s, want %s", got, id)
	}
	if a.current().Leaf.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatal("renew returned the same certificate")
	}
	recs := e.svc.Issuances()
	if len(recs) != 1 || recs[0].Serial != serialOf(a.current().Leaf) || recs[0].Workload != "web-1" || !recs[0].IssuedAt.After(recs[0].FirstIssuedAt) {
		t.Fatalf("the renewal did not carry the record forward: %+v", recs)
	}
	// Attestation and renewal are both in /v1/events, naming the identity
	// and the new serial.
	var msgs []string
	for _, ev := range e.events.Recent(0) {
		if ev.Kind == events.KindRotation {
			msgs = append(msgs, ev.Message)
		}
	}
	if len(msgs) != 2 || !strings.Contains(msgs[0], "attested for "+id.String()) ||
		!strings.Contains(msgs[1], "rotated for "+id.String()) || !strings.Contains(msgs[1], serialOf(a.current().Leaf)) {
		t.Fatalf("rotation events: %q", msgs)
	}
}

func TestBundleAndJWT(t *testing.T) {
	e := newEnv(t)
	a := e.agent()
	b, err := a.c.Bundle(ctx(t))
	if err != nil {
		t.Fatalf("bundle without a certificate: %v", err)
	}
	if b.TrustDomain != "example.org" || len(b.X509Roots) != 1 || len(b.Jwks) == 0 {
		t.Fatalf("bundle: %+v", b)
	}
	if _, err := a.c.MintJWT(ctx(t), []string{"db"}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("JWT without a certificate: %v", err)
	}
	id := e.attest(a, e.token("shop", "a", "", time.Hour, true), "")
	if _, err := a.c.MintJWT(ctx(t), nil); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("JWT without an audience: %v", err)
	}
	j, err := a.c.MintJWT(ctx(t), []string{"db"})
	if err != nil {
		t.Fatal(err)
	}
	svid, err := jwtsvid.ParseAndValidate(j.Token, e.ca, []string{"db"})
	if err != nil || svid.ID != id {
		t.Fatalf("the JWT-SVID does not validate as %s: %v", id, err)
	}
}

func TestRegisterLeaseAndDeregister(t *testing.T) {
	e := newEnv(t)
	e.applyYAML(serviceWeb)
	a := e.agent()
	e.attest(a, e.token("shop", "a", "web-1", time.Hour, true), "web-1")
	spec := resource.WorkloadSpec{Address: "127.0.0.1", Services: []string{"web"}, Ports: []resource.WorkloadPort{{Name: "http", Port: 18080}}}
	key := resource.Key{Kind: resource.KindWorkload, Namespace: "shop", Name: "web-1"}

	if _, err := a.c.Register(ctx(t), "web-2", spec); status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), `only workload "web-1"`) {
		t.Fatalf("registering a name the token does not allow: %v", err)
	}
	other := spec
	other.ServiceAccount = "b"
	if _, err := a.c.Register(ctx(t), "web-1", other); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("registering another service account: %v", err)
	}
	bad := spec
	bad.Address = "nope"
	if _, err := a.c.Register(ctx(t), "web-1", bad); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "spec.address") {
		t.Fatalf("registering an invalid workload: %v", err)
	}

	resp, err := a.c.Register(ctx(t), "web-1", spec)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	if resp.LeaseSeconds < 1 {
		t.Fatalf("lease %d s", resp.LeaseSeconds)
	}
	r, err := e.st.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("the registered workload is not stored: %v", err)
	}
	if !IsAgentRegistered(r) || r.Spec.(*resource.WorkloadSpec).ServiceAccount != "a" {
		t.Fatalf("stored workload: %+v %+v", r.Metadata, r.Spec)
	}
	rev := e.st.Revision()
	// Refreshes that change nothing keep it alive past a lease without a
	// commit. The lease (1s) is ten refresh intervals long, so a loaded
	// machine's scheduling delays do not let it lapse between refreshes.
	for range 15 {
		time.Sleep(100 * time.Millisecond)
		if _, err := a.c.Register(ctx(t), "web-1", spec); err != nil {
			t.Fatalf("refresh: %v", err)
		}
	}
	if e.st.Revision() != rev {
		t.Fatalf("refreshes that change nothing committed (revision %d → %d)", rev, e.st.Revision())
	}
	if _, err := e.st.Get(context.Background(), key); err != nil {
		t.Fatalf("a refreshed registration was removed: %v", err)
	}
	// Without refreshes the lease lapses and the sweeper removes it.
	e.untilGone("the lapsed registration to be removed", key)

	if _, err := a.c.Register(ctx(t), "web-1", spec); err != nil {
		t.Fatalf("register again: %v", err)
	}
	if err := a.c.Deregister(ctx(t), "web-1"); err != nil {
		t.Fatalf("deregister: %v", err)
	}
	if _, err := e.st.Get(context.Background(), key); err == nil {
		t.Fatal("a deregistered workload is still stored")
	}
	if err := a.c.Deregister(ctx(t), "web-1"); status.Code(err) != codes.NotFound {
		t.Fatalf("deregistering twice: %v", err)
	}
}

func TestRegisterDoesNotTakeOverAnOperatorsWorkload(t *testing.T) {
	e := newEnv(t)
	e.applyYAML(serviceWeb + `---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata:
  name: vm-1
  namespace: shop
spec:
  address: 10.0.0.1
  services: [web]
  serviceAccount: a
`)
	a := e.agent()
	e.attest(a, e.token("shop", "a", "", time.Hour, true), "")
	_, err := a.c.Register(ctx(t), "vm-1", resource.WorkloadSpec{Address: "127.0.0.1", Services: []string{"web"}})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "applied by an operator") {
		t.Fatalf("registering over an applied workload: %v", err)
	}
}

func TestRestoredLeasesLapse(t *testing.T) {
	e := newEnv(t)
	e.applyYAML(serviceWeb + `---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata:
  name: web-9
  namespace: shop
  annotations:
    embassy.dev/registered-by: agent
spec:
  address: 10.0.0.9
  services: [web]
`)
	if err := e.svc.RestoreLeases(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.untilGone("a restored registration with no agent to lapse", resource.Key{Kind: resource.KindWorkload, Namespace: "shop", Name: "web-9"})
}
