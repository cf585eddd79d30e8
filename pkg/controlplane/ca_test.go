package controlplane

import (
	"context"
	"crypto/x509"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"embassy.dev/embassy/internal/catest"
	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/client"
	"embassy.dev/embassy/pkg/resource"

	"embassy.dev/embassy/internal/syncbuf"
)

const meshExampleOrg = `apiVersion: embassy.dev/v1alpha1
kind: Mesh
metadata:
  name: mesh
spec:
  trustDomain: example.org
`

// startCPErr starts a control plane on dataDir as startCP does, returning
// Start's error instead of failing.
func startCPErr(dataDir string, mut ...func(*Config)) (*ControlPlane, error) {
	cfg := Config{DataDir: dataDir, XDSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", Debounce: 5 * time.Millisecond}
	for _, m := range mut {
		m(&cfg)
	}
	return Start(context.Background(), cfg)
}

func withTrustDomain(td string) func(*Config) {
	return func(c *Config) { c.TrustDomain = td }
}

func TestApplyOfAMeshOfAnotherTrustDomainIsRefused(t *testing.T) {
	dir := t.TempDir()
	cp := startCP(t, dir, &syncbuf.Buffer{})
	defer cp.Close()
	admin, _, _, err := api.EnsureAdminToken(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	c := client.New("http://"+cp.APIAddr(), admin)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	before := cp.Store().Revision()

	for _, dryRun := range []bool{true, false} {
		res, err := c.Apply(ctx, []client.File{{Name: "mesh.yaml", Content: meshExampleOrg + "---\n" + meshShop}}, dryRun)
		var ce *client.Error
		if !errors.As(err, &ce) || len(ce.Details) != 1 {
			t.Fatalf("dryRun=%v: want one refusal, got %+v, %v", dryRun, res, err)
		}
		fe := ce.Details[0]
		want := "the control plane's CA serves trust domain embassy.local; start embassy-cp with --trust-domain example.org on a new data dir to use example.org"
		if fe.Path != "spec.trustDomain" || fe.Msg != want || fe.File != "mesh.yaml" || fe.Index != 0 {
			t.Fatalf("dryRun=%v: the refusal is %+v, want %q at mesh.yaml document 0 spec.trustDomain", dryRun, fe, want)
		}
	}
	if rev := cp.Store().Revision(); rev != before {
		t.Fatalf("the refused apply moved the revision from %d to %d", before, rev)
	}
	if rs, _, _ := cp.Store().List(ctx, ""); len(rs) != 0 {
		t.Fatalf("the refused apply stored %d resources", len(rs))
	}

	// A Mesh of the running trust domain is fine.
	mesh := strings.Replace(meshExampleOrg, "example.org", "embassy.local", 1)
	if _, err := c.Apply(ctx, []client.File{{Name: "mesh.yaml", Content: mesh}}, false); err != nil {
		t.Fatalf("a Mesh of the CA's trust domain: %v", err)
	}
}

func TestTrustDomainFlagChoosesTheNewCAsTrustDomain(t *testing.T) {
	dir := t.TempDir()
	cp := startCP(t, dir, &syncbuf.Buffer{}, withTrustDomain("example.org"))
	if td := cp.CA().TrustDomain().Name(); td != "example.org" {
		t.Fatalf("the CA serves %s, want example.org", td)
	}
	// Before any Mesh is applied, proxies are configured for the CA's
	// trust domain, not the default one.
	if td := cp.snapshot().Mesh.TrustDomain; td != "example.org" {
		t.Fatalf("the snapshot's trust domain is %s before a Mesh is applied", td)
	}
	web, _ := attest(t, cp, "shop", "web")
	if id, err := x509svid.IDFromCert(web.cert.Leaf); err != nil || id.String() != "spiffe://example.org/ns/shop/sa/web" {
		t.Fatalf("the SVID is for %v (%v)", id, err)
	}
	if err := cp.Close(); err != nil {
		t.Fatal(err)
	}

	// Without the flag and without a Mesh, the stored CA keeps its trust
	// domain.
	cp = startCP(t, dir, &syncbuf.Buffer{})
	if td := cp.CA().TrustDomain().Name(); td != "example.org" {
		t.Fatalf("restarted without --trust-domain, the CA serves %s", td)
	}
	if _, err := cp.applier.Apply(context.Background(), decodeYAML(t, meshExampleOrg), false); err != nil {
		t.Fatalf("a Mesh of the CA's trust domain: %v", err)
	}
	if err := cp.Close(); err != nil {
		t.Fatal(err)
	}

	_, err := startCPErr(dir, withTrustDomain("other.example"))
	for _, want := range []string{"--trust-domain other.example", "names trust domain example.org", "start without --trust-domain", "new --data-dir"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("a start with another trust domain: want an error with %q, got %v", want, err)
		}
	}
	cp = startCP(t, dir, &syncbuf.Buffer{})
	defer cp.Close()
	if td := cp.CA().TrustDomain().Name(); td != "example.org" {
		t.Fatalf("restarted with the Mesh stored, the CA serves %s", td)
	}
}

func TestStartRefusesAStoredCAOfAnotherTrustDomain(t *testing.T) {
	dir := t.TempDir()
	cp := startCP(t, dir, &syncbuf.Buffer{})
	cp.Close()
	_, err := startCPErr(dir, withTrustDomain("example.org"))
	for _, want := range []string{"serves trust domain embassy.local", "--trust-domain example.org", "--trust-domain embassy.local", "new --data-dir"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("want an error with %q, got %v", want, err)
		}
	}

	// A data dir where a Mesh of another trust domain was stored before
	// applies were checked: no flag fixes it, a new data dir does.
	cp = startCP(t, dir, &syncbuf.Buffer{})
	applyYAML(t, cp, meshExampleOrg) // through a bare Applier, without the check
	cp.Close()
	_, err = startCPErr(dir)
	for _, want := range []string{"serves trust domain embassy.local", "the stored Mesh names example.org", "--trust-domain example.org on a new --data-dir"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("want an error with %q, got %v", want, err)
		}
	}
}

func TestTrustDomainFlagIsChecked(t *testing.T) {
	_, err := startCPErr(t.TempDir(), withTrustDomain("Not A Domain"))
	if err == nil || !strings.Contains(err.Error(), `--trust-domain "Not A Domain"`) {
		t.Fatalf("an invalid --trust-domain: %v", err)
	}
}

func TestProvidedCAFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := catest.WriteProvidedCA(t, dir, "spiffe://example.org")
	provided := func(c *Config) { c.CACertFile, c.CAKeyFile = certFile, keyFile }
	cp := startCP(t, filepath.Join(dir, "data"), &syncbuf.Buffer{}, provided, withTrustDomain("example.org"))
	defer cp.Close()
	roots := cp.CA().Bundle()
	if len(roots) != 1 || roots[0].Subject.CommonName != catest.Subject {
		t.Fatalf("the bundle is not the provided CA: %v", roots)
	}
	web, _ := attest(t, cp, "shop", "web")
	if _, _, err := x509svid.Verify([]*x509.Certificate{web.cert.Leaf}, cp.CA()); err != nil {
		t.Fatalf("an SVID of the provided CA does not verify: %v", err)
	}

	if _, err := startCPErr(filepath.Join(dir, "other"), provided, withTrustDomain("other.example")); err == nil || !strings.Contains(err.Error(), "names trust domain") {
		t.Fatalf("a provided CA of another trust domain: %v", err)
	}
	if _, err := startCPErr(filepath.Join(dir, "half"), func(c *Config) { c.CACertFile = certFile }); err == nil || !strings.Contains(err.Error(), "go together") {
		t.Fatalf("--ca-cert-file without --ca-key-file: %v", err)
	}
}

// decodeYAML decodes documents or fails the test.
func decodeYAML(t *testing.T, doc string) []*resource.Resource {
	t.Helper()
	rs, err := resource.Decode("test.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}
