package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/internal/catest"
	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/store"
)

// caEnv is env over a real CA loaded with cfg, rotated through the API the
// way embassy-cp wires it.
func caEnv(t *testing.T, cfg identity.CAConfig) (*env, *identity.CA) {
	t.Helper()
	st := store.NewMemory()
	t.Cleanup(func() { st.Close() })
	ca, err := identity.LoadOrCreateCA(st, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return serveEnv(t, st, api.Options{
		Bundle: ca,
		RotateCA: func() ([]identity.RootInfo, error) {
			if err := ca.Rotate(); err != nil {
				if cfg.Type == identity.CATypeProvided {
					return nil, &api.RotateRefusedError{Err: err}
				}
				return nil, err
			}
			return ca.Roots(), nil
		},
	}), ca
}

func TestCARotatePublishesANewRootAndListsTheRoots(t *testing.T) {
	e, ca := caEnv(t, identity.CAConfig{TrustDomain: "example.org", PublishDelay: time.Hour})
	old := ca.Roots()[0].Fingerprint

	code, out, errOut := e.run("ca", "rotate")
	if code != 0 {
		t.Fatalf("ca rotate: exit %d\n%s", code, errOut)
	}
	roots := ca.Roots()
	if len(roots) != 2 || roots[0].Fingerprint != old {
		t.Fatalf("after ca rotate the CA has %+v", roots)
	}
	added := roots[1].Fingerprint[:16]
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "published root "+added+": it is in the trust bundle now and signs from ") ||
		!(strings.HasSuffix(lines[0], "(in 1h0m0s)") || strings.Contains(lines[0], "(in 59m5")) || lines[2] != "TRUST-DOMAIN example.org" {
		t.Fatalf("ca rotate output:\n%s", out)
	}
	if f := strings.Fields(lines[4]); f[0] != old[:16] || f[1] != "yes" {
		t.Fatalf("the old root should be listed first and active: %q", lines[4])
	}
	if f := strings.Fields(lines[5]); f[0] != added || f[1] != "no" || f[3] != "-" {
		t.Fatalf("the new root should be listed last, waiting to sign: %q", lines[5])
	}

	code, out, _ = e.run("ca", "roots", "-o", "json")
	var listed apiwire.CARootsResponse
	if code != 0 || json.Unmarshal([]byte(out), &listed) != nil || len(listed.Roots) != 2 || listed.Roots[1].Fingerprint != roots[1].Fingerprint {
		t.Fatalf("ca roots -o json: exit %d\n%s", code, out)
	}
	code, out, _ = e.run("ca", "roots")
	if code != 0 || !strings.Contains(out, "FINGERPRINT") || !strings.Contains(out, added) {
		t.Fatalf("ca roots: exit %d\n%s", code, out)
	}
}

func TestCARotateOfAProvidedCAFailsWithTheCAsAdvice(t *testing.T) {
	certFile, keyFile := catest.WriteProvidedCA(t, "", "")
	e, ca := caEnv(t, identity.CAConfig{TrustDomain: "example.org", Type: identity.CATypeProvided, CertFile: certFile, KeyFile: keyFile})
	code, out, errOut := e.run("ca", "rotate")
	if code != 1 || out != "" || !strings.Contains(errOut, "replace its cert and key files and restart embassy-cp") {
		t.Fatalf("ca rotate of a provided CA: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if n := len(ca.Bundle()); n != 1 {
		t.Fatalf("the provided CA has %d roots", n)
	}
}

func TestCARotateNeedsTheAdminToken(t *testing.T) {
	e, ca := caEnv(t, identity.CAConfig{TrustDomain: "example.org"})
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--server", e.url, "--token-file", "", "ca", "rotate"}, &out, &errOut)
	if code != 1 || out.Len() != 0 || !strings.Contains(errOut.String(), "missing bearer token") {
		t.Fatalf("ca rotate without a token: exit %d\n%s", code, errOut.String())
	}
	if n := len(ca.Bundle()); n != 1 {
		t.Fatalf("a refused caller rotated the CA: %d roots", n)
	}
}

func TestCARotateHelpTeachesRotation(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"ca", "rotate", "--help"}, &out, &errOut); code != 0 {
		t.Fatalf("ca rotate --help: exit %d\n%s", code, errOut.String())
	}
	help := strings.Join(strings.Fields(out.String()), " ")
	for _, want := range []string{
		"in the trust bundle at once, but it signs nothing until the CA's publish delay",
		"stays in the bundle until the last SVID it signed expires",
		"agents pick the new bundle up by themselves",
		"rotate it by replacing its cert and key files and restarting embassy-cp",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("ca rotate --help does not say %q:\n%s", want, out.String())
		}
	}
}
