package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/internal/idtest"
	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/identity"
)

// identityEnv is env with real join tokens and a real CA.
func identityEnv(t *testing.T) (*env, *identity.Tokens) {
	t.Helper()
	id := idtest.New(t, "example.org", nil)
	return serveEnv(t, id.Store, api.Options{
		Tokens: id.Tokens, Bundle: id.CA,
		Certificates: func() []apiwire.WorkloadCertificate {
			return []apiwire.WorkloadCertificate{{Workload: "echo-v1", SPIFFEID: "spiffe://example.org/ns/default/sa/echo", Serial: "1f", NotAfter: time.Now().Add(time.Hour), IssuedAt: time.Now()}}
		},
	}), id.Tokens
}

func TestTokenCreatePrintsOnlyTheToken(t *testing.T) {
	e, tokens := identityEnv(t)
	code, out, errOut := e.run("token", "create", "--namespace", "default", "--service-account", "echo", "--workload", "echo-v1", "--ttl", "30m", "--single-use")
	if code != 0 {
		t.Fatalf("token create: exit %d\n%s", code, errOut)
	}
	tok := strings.TrimSpace(out)
	if strings.Count(out, "\n") != 1 || !strings.HasPrefix(tok, "emb1.") {
		t.Fatalf("stdout is not the token alone: %q", out)
	}
	info, err := tokens.Redeem(tok)
	if err != nil || info.Workload != "echo-v1" || !info.SingleUse {
		t.Fatalf("the printed token does not redeem as created (%v): %+v", err, info)
	}
	if !strings.Contains(errOut, "created join token "+info.ID+" for ns default, sa echo, workload echo-v1") || strings.Contains(errOut, tok) {
		t.Fatalf("stderr: %s", errOut)
	}

	code, out, _ = e.run("token", "list")
	if code != 0 || !strings.Contains(out, info.ID) || !strings.Contains(out, "used") || strings.Contains(out, tok) {
		t.Fatalf("token list: exit %d\n%s", code, out)
	}
	code, out, _ = e.run("token", "revoke", info.ID)
	if code != 0 || out != "token "+info.ID+" revoked\n" {
		t.Fatalf("token revoke: exit %d\n%s", code, out)
	}
	code, _, errOut = e.run("token", "revoke", "0123456789abcdef")
	if code != 1 || !strings.Contains(errOut, "no join token has this ID") {
		t.Fatalf("revoke an unknown token: exit %d\n%s", code, errOut)
	}
	code, _, errOut = e.run("token", "create", "--namespace", "default")
	if code != 1 || !strings.Contains(errOut, "--service-account are required") {
		t.Fatalf("create without a service account: exit %d\n%s", code, errOut)
	}
}

func TestTokenCommandsNeedTheAdminToken(t *testing.T) {
	e, _ := identityEnv(t)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--server", e.url, "--token-file", "", "token", "create", "-n", "default", "--service-account", "echo"}, &out, &errOut)
	if code != 1 || out.Len() != 0 || !strings.Contains(errOut.String(), "missing bearer token") {
		t.Fatalf("token create without the admin token: exit %d\n%s", code, errOut.String())
	}
}

func TestBundleAndCerts(t *testing.T) {
	e, _ := identityEnv(t)
	code, out, errOut := e.run("bundle")
	if blk, _ := pem.Decode([]byte(out)); code != 0 || blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("bundle: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = e.run("bundle", "-o", "jwks")
	if code != 0 || !strings.Contains(out, `"keys"`) {
		t.Fatalf("bundle -o jwks: exit %d\n%s", code, out)
	}
	code, out, _ = e.run("certs")
	if code != 0 || !strings.Contains(out, "spiffe://example.org/ns/default/sa/echo") || !strings.Contains(out, "TRUST-DOMAIN example.org") || !strings.Contains(out, "active") {
		t.Fatalf("certs: exit %d\n%s", code, out)
	}
}

// TestTokenCreateOutputAndLimits checks --output (the token alone, mode
// 0600, replacing a readable file), --service, and the TTL's bound as the
// CLI reports it.
func TestTokenCreateOutputAndLimits(t *testing.T) {
	e, tokens := identityEnv(t)
	path := filepath.Join(e.dir, "web.token")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := e.run("token", "create", "-n", "shop", "--service-account", "web", "--service", "web", "--service", "web-admin", "--output", path)
	if code != 0 || out != "" {
		t.Fatalf("token create --output: exit %d, stdout %q\n%s", code, out, errOut)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v, want 0600", err, fi.Mode())
	}
	b, _ := os.ReadFile(path)
	info, err := tokens.Redeem(strings.TrimSpace(string(b)))
	if err != nil || strings.Join(info.Services, ",") != "web,web-admin" {
		t.Fatalf("the written token does not redeem with its services (%v): %+v", err, info)
	}
	if !strings.Contains(errOut, "services web,web-admin") || !strings.Contains(errOut, "written to "+path) || strings.Contains(errOut, string(b)) {
		t.Fatalf("stderr: %s", errOut)
	}
	code, _, errOut = e.run("token", "create", "-n", "shop", "--service-account", "web", "--ttl", "100000000h")
	if code != 1 || !strings.Contains(errOut, `--ttl "100000000h" is not a duration from 0 to 8760h (365 days)`) {
		t.Fatalf("create with an oversized ttl: exit %d\n%s", code, errOut)
	}
}

// A token printed into a file others may read, as `> file` makes one under
// the usual umask, comes with a warning that names --output; a private
// file gets none.
func TestTokenCreateWarnsWhenStdoutIsAReadableFile(t *testing.T) {
	e, _ := identityEnv(t)
	for _, mode := range []os.FileMode{0o644, 0o600} {
		f, err := os.OpenFile(filepath.Join(t.TempDir(), "echo.token"), os.O_CREATE|os.O_WRONLY, mode)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Chmod(mode); err != nil {
			t.Fatal(err)
		}
		var errOut bytes.Buffer
		code := run(context.Background(), []string{"--server", e.url, "--token-file", e.tokenFile,
			"token", "create", "--namespace", "default", "--service-account", "echo"}, f, &errOut)
		f.Close()
		warned := strings.Contains(errOut.String(), "warning: the token went to a file others may read") && strings.Contains(errOut.String(), "--output FILE")
		if code != 0 || warned != (mode == 0o644) {
			t.Errorf("stdout a file of mode %04o: exit %d, stderr %q", mode, code, errOut.String())
		}
	}
}
