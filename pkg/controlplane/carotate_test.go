package controlplane

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"embassy.dev/embassy/internal/catest"
	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/client"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/spiffe"
	"embassy.dev/embassy/pkg/store"

	"embassy.dev/embassy/internal/syncbuf"
)

// adminClient is an API client of cp with the admin token of dataDir.
func adminClient(t *testing.T, cp *ControlPlane, dataDir string) *client.Client {
	t.Helper()
	admin, _, _, err := api.EnsureAdminToken(dataDir, "")
	if err != nil {
		t.Fatal(err)
	}
	return client.New("http://"+cp.APIAddr(), admin)
}

func TestRotateCAThroughTheAPI(t *testing.T) {
	dir := t.TempDir()
	logs := &syncbuf.Buffer{}
	cp := startCP(t, dir, logs)
	c := adminClient(t, cp, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	before := cp.CA().Roots()

	out, err := c.RotateCA(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if out.TrustDomain != "embassy.local" || len(out.Roots) != 2 {
		t.Fatalf("want 2 roots of embassy.local after a rotation, got %+v", out)
	}
	old, added := out.Roots[0], out.Roots[1]
	if old.Fingerprint != before[0].Fingerprint || !old.Active {
		t.Fatalf("the old root should keep signing during the publish delay: %+v", old)
	}
	if added.Active || !added.SignsFrom.After(time.Now().Add(identity.DefaultPublishDelay/2)) {
		t.Fatalf("the new root should sign only after the publish delay: %+v", added)
	}

	pemBundle, err := c.Bundle(ctx, "pem")
	if err != nil {
		t.Fatal(err)
	}
	certs, err := spiffe.ParseCertsPEM(pemBundle)
	if err != nil || len(certs) != 2 {
		t.Fatalf("/v1/bundle after a rotation holds %d roots (%v), want 2", len(certs), err)
	}
	listed, err := c.Certificates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed.Roots) != 2 || listed.Roots[0].Fingerprint != old.Fingerprint || listed.Roots[1].Fingerprint != added.Fingerprint {
		t.Fatalf("/v1/certificates roots do not match the rotation's: %+v", listed.Roots)
	}
	byCA, err := c.CARoots(ctx)
	if err != nil || len(byCA.Roots) != 2 || byCA.Roots[1].Fingerprint != added.Fingerprint {
		t.Fatalf("/v1/ca/roots after a rotation (%v): %+v", err, byCA)
	}

	log := logs.String()
	if !strings.Contains(log, "mesh CA root published") || !strings.Contains(log, added.Fingerprint) ||
		!strings.Contains(log, added.SignsFrom.UTC().Format(time.RFC3339)) {
		t.Fatalf("the rotation is not logged with the new root:\n%s", log)
	}
	if strings.Contains(log, "PRIVATE KEY") {
		t.Fatalf("the log holds key material:\n%s", log)
	}

	// The new root is stored: a restart serves both.
	if err := cp.Close(); err != nil {
		t.Fatal(err)
	}
	cp = startCP(t, dir, &syncbuf.Buffer{})
	defer cp.Close()
	if roots := cp.CA().Roots(); len(roots) != 2 || roots[1].Fingerprint != added.Fingerprint {
		t.Fatalf("after a restart the CA has %+v", roots)
	}
}

func TestRotateCAOfAProvidedCAIsRefused(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := catest.WriteProvidedCA(t, dir, "spiffe://example.org")
	dataDir := filepath.Join(dir, "data")
	cp := startCP(t, dataDir, &syncbuf.Buffer{}, func(c *Config) { c.CACertFile, c.CAKeyFile = certFile, keyFile }, withTrustDomain("example.org"))
	defer cp.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	_, err := adminClient(t, cp, dataDir).RotateCA(ctx)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.StatusCode != http.StatusConflict || !strings.Contains(ce.Message, "replace its cert and key files") {
		t.Fatalf("rotating a provided CA: want 409 saying to replace its files, got %v", err)
	}
	if roots := cp.CA().Bundle(); len(roots) != 1 || roots[0].Subject.CommonName != "provided test CA" {
		t.Fatalf("the refused rotation changed the bundle: %d roots", len(roots))
	}
}

// otherBundle is a trust bundle that is not the control plane's CA, as
// when SPIRE is the mesh's CA.
type otherBundle struct{ *identity.CA }

func TestRotateCAIsRefusedWhenTheBundleIsAnotherCAs(t *testing.T) {
	st := store.NewMemory()
	defer st.Close()
	ca, err := identity.LoadOrCreateCA(st, identity.CAConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cp := &ControlPlane{ca: ca, spire: &spireSource{}, log: hclog.NewNullLogger()}

	o := cp.caAPIOptions(api.Options{Bundle: otherBundle{ca}})
	var refused *api.RotateRefusedError
	if _, err := o.RotateCA(); !errors.As(err, &refused) || !strings.Contains(err.Error(), "rotate them there") {
		t.Fatalf("rotating beside another CA's bundle: %v", err)
	}
	if n := len(ca.Bundle()); n != 1 {
		t.Fatalf("the refused rotation left %d roots", n)
	}

	cp.spire = nil
	o = cp.caAPIOptions(api.Options{Bundle: ca})
	if roots, err := o.RotateCA(); err != nil || len(roots) != 2 {
		t.Fatalf("rotating the CA that is the bundle: %d roots, %v", len(roots), err)
	}
	if o := (&ControlPlane{}).caAPIOptions(api.Options{}); o.RotateCA != nil {
		t.Fatal("a control plane without a CA offers a rotation")
	}
}

func TestRotateCAOfASPIREMeshIsRefused(t *testing.T) {
	m := startSPIREMesh(t, &syncbuf.Buffer{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	before := m.cp.CA().Roots()

	_, err := adminClient(t, m.cp, m.cp.cfg.DataDir).RotateCA(ctx)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.StatusCode != http.StatusConflict || !strings.Contains(ce.Message, "SPIRE") {
		t.Fatalf("rotating a SPIRE-backed mesh: want 409 naming SPIRE, got %v", err)
	}
	if after := m.cp.CA().Roots(); len(after) != len(before) {
		t.Fatalf("the refused rotation changed the builtin CA: %d roots, was %d", len(after), len(before))
	}
}
