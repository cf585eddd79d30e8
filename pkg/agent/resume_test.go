package agent

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/identity/client"
	"embassy.dev/embassy/pkg/identity/wire"
	"embassy.dev/embassy/pkg/spiffe"
)

// A restarted agent whose single-use token was used starts from the SVID
// in its socket directory: it serves that SVID, renews it at once over
// mTLS for the same SPIFFE ID, and never presents the token again.
func TestRestartResumesFromThePEMFiles(t *testing.T) {
	cp := startRealCP(t, "10m")
	tokenFile := filepath.Join(tokenDir(t), "web-1.token")
	token := createToken(t, cp, "web", true)
	writeToken(t, tokenFile, token)
	dir := shortTempDir(t)
	first := startCPAgent(t, cp, cp.addr, dir, tokenFile)
	before := first.Manager().Current()
	first.stop(t)
	if n := tokenUses(t, cp, token); n != 1 {
		t.Fatalf("the token was redeemed %d times by the first run", n)
	}

	second := startCPAgent(t, cp, cp.addr, dir, tokenFile)
	renewed := waitIdentity(t, second.Manager(), 10*time.Second, "renewal of the resumed SVID", func(id *Identity) bool {
		return id.SVID != nil && !leafOf(id).Equal(leafOf(before))
	})
	if renewed.ID != before.ID || renewed.SVID.ID != before.ID {
		t.Fatalf("resumed as %s, then renewed as %s; want %s", renewed.ID, renewed.SVID.ID, before.ID)
	}
	if got := second.published(); len(got) < 2 || got[0] != serialOfSVID(before) {
		t.Fatalf("published serials %v: want the resumed %s first, then a renewal", got, serialOfSVID(before))
	}
	if n := tokenUses(t, cp, token); n != 1 {
		t.Fatalf("the restarted agent presented the token: %d uses", n)
	}
	out := second.out.String()
	if !strings.Contains(out, "resumed as "+before.ID.String()+" from the SVID in "+dir) || !strings.Contains(out, "rotated SVID serial "+serialOfSVID(renewed)) ||
		strings.Contains(out, "attested as") || strings.Contains(out, "refused") {
		t.Fatalf("stdout:\n%s", out)
	}

	// The files follow the renewal, with a key that pairs and stays 0600.
	waitText(t, second.log, 5*time.Second, "PEM files of the renewed SVID", func(string) bool {
		chain, err1 := os.ReadFile(filepath.Join(dir, dataplane.CertFile))
		key, err2 := os.ReadFile(filepath.Join(dir, dataplane.KeyFile))
		pair, err3 := tls.X509KeyPair(chain, key)
		return err1 == nil && err2 == nil && err3 == nil && pair.Leaf.Equal(leafOf(renewed))
	})
	if fi, err := os.Stat(filepath.Join(dir, dataplane.KeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, %v", dataplane.KeyFile, fi.Mode(), err)
	}
}

// A restarted agent whose files hold an expired SVID attests with the token
// in the file: a new one is redeemed, and the used one stops the agent.
func TestRestartWithExpiredFilesAttests(t *testing.T) {
	cp := startRealCP(t, "10m")
	tokenFile := filepath.Join(tokenDir(t), "web-1.token")
	used := createToken(t, cp, "web", true)
	writeToken(t, tokenFile, used)
	dir := shortTempDir(t)
	first := startCPAgent(t, cp, cp.addr, dir, tokenFile)
	first.stop(t)
	leaf := expireTheFiles(t, cp, dir)

	// The used token: refused, as on any first start.
	a, err := New(Config{SocketDir: dir, TokenFile: tokenFile, Workload: "web-1.shop", TrustBundle: cp.ca.Bundle(),
		Dial: func(roots []*x509.Certificate, cert func() *tls.Certificate) (ControlPlaneConn, error) {
			return client.Dial(cp.addr, roots, cert)
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Run(ctx); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("Run with expired files and a used token: %v", err)
	}

	fresh := createToken(t, cp, "web", true)
	writeToken(t, tokenFile, fresh)
	second := startCPAgent(t, cp, cp.addr, dir, tokenFile)
	cur := second.Manager().Current()
	if cur.ID != spiffeid.RequireFromString("spiffe://example.org/ns/shop/sa/web") || leafOf(cur).Equal(leaf) {
		t.Fatalf("serving %s serial %s", cur.ID, serialOfSVID(cur))
	}
	if n := tokenUses(t, cp, fresh); n != 1 {
		t.Fatalf("the new token was redeemed %d times", n)
	}
	if out := second.out.String(); !strings.Contains(out, "attested as") || strings.Contains(out, "resumed") {
		t.Fatalf("stdout:\n%s", out)
	}
	if log := second.log.String(); !strings.Contains(log, "not starting from the PEM files of a previous run") || !strings.Contains(log, "expired at") ||
		strings.Contains(log, "PRIVATE KEY") {
		t.Fatalf("log:\n%s", log)
	}
}

// refusingRenewals is a control plane that no longer accepts the agent's
// SVID (its CA changed, say) but still redeems its token.
type refusingRenewals struct{ *fakeCP }

func (r refusingRenewals) Renew(context.Context, []byte) (*wire.SVIDResponse, error) {
	return nil, status.Error(codes.Unauthenticated, "the client certificate is not a valid SVID of this mesh")
}

// When the control plane refuses to renew the resumed SVID, the agent
// attests with its token instead.
func TestRefusedResumeFallsBackToTheToken(t *testing.T) {
	cp := newFakeCP(t, time.Minute)
	dir := shortTempDir(t)
	first := startAgent(t, cp, func(c *Config) { c.SocketDir = dir })
	before := first.Manager().Current()
	first.stop(t)

	second := startAgent(t, cp, func(c *Config) { c.SocketDir = dir; c.ControlPlane = refusingRenewals{cp} })
	attested := waitIdentity(t, second.Manager(), 10*time.Second, "attestation after the refusal", func(id *Identity) bool {
		return id.SVID != nil && !leafOf(id).Equal(leafOf(before))
	})
	if attested.ID != testID {
		t.Fatalf("attested as %s", attested.ID)
	}
	out := second.out.String()
	if !strings.Contains(out, "resumed as") || !strings.Contains(out, "refused to renew the SVID resumed from "+dir) || !strings.Contains(out, "attested as "+testID.String()) {
		t.Fatalf("stdout:\n%s", out)
	}
}

// The files of a previous run are used only when they hold a valid SVID of
// a workload whose key is in the key file and whose chain verifies.
func TestLoadPEMFiles(t *testing.T) {
	ca, otherCA := newTestCA(t), newTestCA(t)
	now := time.Now()
	write := func(t *testing.T, id *Identity) string {
		dir := t.TempDir()
		if err := WritePEMFiles(dir, id); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	good := ca.issue(t, testID, time.Hour)

	t.Run("valid", func(t *testing.T) {
		svid, roots, err := LoadPEMFiles(write(t, good), nil, now)
		if err != nil || svid.ID != testID || !leafOf(&Identity{SVID: svid}).Equal(leafOf(good)) || len(roots) != 1 || !roots[0].Equal(ca.root) {
			t.Fatalf("LoadPEMFiles: %v", err)
		}
	})
	t.Run("bundle-file-missing-trust-bundle-verifies", func(t *testing.T) {
		dir := write(t, good)
		os.Remove(filepath.Join(dir, dataplane.BundleFile))
		if _, roots, err := LoadPEMFiles(dir, []*x509.Certificate{ca.root}, now); err != nil || !roots[0].Equal(ca.root) {
			t.Fatalf("LoadPEMFiles: %v", err)
		}
	})
	for _, tc := range []struct {
		name, want string
		dir        func(t *testing.T) string
		trust      []*x509.Certificate
		now        time.Time
	}{
		{"no-files", "no such file", func(t *testing.T) string { return t.TempDir() }, nil, now},
		{"expired", "expired at", func(t *testing.T) string { return write(t, good) }, nil, now.Add(2 * time.Hour)},
		{"key-of-another-svid", "does not match", func(t *testing.T) string {
			dir := write(t, good)
			other := write(t, ca.issue(t, testID, time.Hour))
			b, _ := os.ReadFile(filepath.Join(other, dataplane.KeyFile))
			os.WriteFile(filepath.Join(dir, dataplane.KeyFile), b, 0o600)
			return dir
		}, nil, now},
		{"garbage-chain", "cannot parse", func(t *testing.T) string {
			dir := write(t, good)
			os.WriteFile(filepath.Join(dir, dataplane.CertFile), []byte("not PEM"), 0o644)
			return dir
		}, nil, now},
		{"signed-by-another-ca", "verifies neither", func(t *testing.T) string {
			dir := write(t, otherCA.issue(t, testID, time.Hour))
			os.WriteFile(filepath.Join(dir, dataplane.BundleFile), certsPEM([]*x509.Certificate{ca.root}), 0o644)
			return dir
		}, []*x509.Certificate{ca.root}, now},
		{"not-a-workload-id", "not a workload ID", func(t *testing.T) string {
			return write(t, ca.issue(t, spiffeid.RequireFromString("spiffe://test.embassy/web"), time.Hour))
		}, nil, now},
		{"control-plane-id", "control plane's own", func(t *testing.T) string {
			return write(t, ca.issue(t, spiffeid.RequireFromString("spiffe://test.embassy/ns/embassy-system/sa/embassy-cp"), time.Hour))
		}, nil, now},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := LoadPEMFiles(tc.dir(t), tc.trust, tc.now)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Fatalf("the error shows the key: %v", err)
			}
		})
	}
}

// parseLeafPEM returns the first certificate of a PEM chain.
func parseLeafPEM(t *testing.T, chain []byte) *x509.Certificate {
	t.Helper()
	certs, err := spiffe.ParseCertsPEM(chain)
	if err != nil || len(certs) == 0 {
		t.Fatalf("%s: %d certificates, %v", dataplane.CertFile, len(certs), err)
	}
	return certs[0]
}

// expireTheFiles replaces the SVID in dir's PEM files with one of the same
// ID and key that has expired: the control plane's CA, read from its store
// with a clock an hour behind, signs it. It returns the expired leaf.
func expireTheFiles(t *testing.T, cp *realCP, dir string) *x509.Certificate {
	t.Helper()
	svid, roots, err := LoadPEMFiles(dir, cp.ca.Bundle(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	past, err := identity.LoadOrCreateCA(cp.st, identity.CAConfig{TrustDomain: svid.ID.TrustDomain().Name()}, func() time.Time { return time.Now().Add(-time.Hour) })
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, svid.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := past.SignCSR(csr, svid.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	expired := &x509svid.SVID{ID: svid.ID, Certificates: chain, PrivateKey: svid.PrivateKey}
	if err := WritePEMFiles(dir, &Identity{ID: svid.ID, SVID: expired, Roots: roots}); err != nil {
		t.Fatal(err)
	}
	return chain[0]
}
