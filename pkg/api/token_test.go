package api

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestEnsureAdminTokenCreatesOnceInDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	tok, path, created, err := EnsureAdminToken(dir, "")
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v", created, err)
	}
	if path != filepath.Join(dir, "admin-token") || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(tok) {
		t.Fatalf("token %q at %s, want 64 hex characters in %s/admin-token", tok, path, dir)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode: %v %v, want 0600", fi.Mode(), err)
	}
	again, _, created, err := EnsureAdminToken(dir, "")
	if err != nil || created || again != tok {
		t.Fatalf("second call: token changed=%v created=%v err=%v", again != tok, created, err)
	}
}

func TestEnsureAdminTokenReadsTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tok")
	if err := os.WriteFile(path, []byte("  s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, got, created, err := EnsureAdminToken("", path)
	if err != nil || tok != "s3cret" || got != path || created {
		t.Fatalf("read token file: %q %s %v %v", tok, got, created, err)
	}
}

func TestEnsureAdminTokenRefusesReadableOrEmptyFile(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, []byte("s3cret"), 0o644); err != nil {
		t.Fatal(err)
	}
	// WriteFile's mode is subject to the umask; set it exactly.
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, _, err := EnsureAdminToken("", open)
	if err == nil || !strings.Contains(err.Error(), "chmod 600 "+open) {
		t.Fatalf("world-readable token file: %v, want an error saying chmod 600 %s", err, open)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatal("the error leaks the token")
	}

	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := EnsureAdminToken("", empty); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty token file: %v, want an error saying it is empty", err)
	}

	// An existing data-dir token file with loose permissions is refused
	// too, rather than silently replaced.
	data := t.TempDir()
	loose := filepath.Join(data, "admin-token")
	if err := os.WriteFile(loose, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := EnsureAdminToken(data, ""); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group-readable data-dir token: %v", err)
	}
}
