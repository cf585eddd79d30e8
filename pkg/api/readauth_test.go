package api

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/apiwire"
)

const testReadToken = "test-read-token"

func newAuthServer(t *testing.T, anonymous bool) *harness {
	t.Helper()
	return serve(t, Options{ReadTokens: []string{testReadToken}, AnonymousReads: anonymous})
}

func TestReadTokensReadButCannotWrite(t *testing.T) {
	h := newAuthServer(t, false)
	for _, path := range []string{"/v1/resources/services", "/v1/proxies", "/v1/status", "/v1/services", "/v1/events"} {
		if code, body := h.do(http.MethodGet, path, "", nil); code != http.StatusUnauthorized || !strings.Contains(errorOf(t, body).Error, "reads need the read token") {
			t.Errorf("GET %s without a token: %d %s", path, code, body)
		}
		if code, body := h.do(http.MethodGet, path, testReadToken, nil); code != http.StatusOK {
			t.Errorf("GET %s with the read token: %d %s", path, code, body)
		}
		if code, body := h.do(http.MethodGet, path, testToken, nil); code != http.StatusOK {
			t.Errorf("GET %s with the admin token: %d %s", path, code, body)
		}
		if code, _ := h.do(http.MethodGet, path, "guess", nil); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong token: %d", path, code)
		}
	}
	req := apiwire.ApplyRequest{Files: []apiwire.File{{Name: "echo.yaml", Content: meshtest.ServiceEcho}}}
	code, body := h.do(http.MethodPost, "/v1/apply", testReadToken, req)
	if code != http.StatusForbidden || !strings.HasPrefix(errorOf(t, body).Error, "POST /v1/apply needs the admin token, not the read token") {
		t.Fatalf("apply with the read token: %d %s", code, body)
	}
	// Admin routes that only read are refused as what they are, not as
	// writes.
	for _, path := range []string{"/v1/tokens", "/v1/backup", "/debug/pprof/"} {
		code, body := h.do(http.MethodGet, path, testReadToken, nil)
		msg := errorOf(t, body).Error
		if code != http.StatusForbidden || !strings.HasPrefix(msg, "GET "+path+" needs the admin token, not the read token") ||
			!strings.Contains(msg, "<data-dir>/admin-token") || strings.Contains(msg, "write") {
			t.Errorf("GET %s with the read token: %d %q, want 403 naming the route and the admin token", path, code, msg)
		}
	}
	if code, _ := h.do(http.MethodGet, "/debug/pprof/cmdline", testToken, nil); code != http.StatusOK {
		t.Errorf("pprof with the admin token: %d", code)
	}
	if strings.Contains(string(body), testReadToken) {
		t.Fatal("a response repeats the read token")
	}
	if h.st.Revision() != 0 {
		t.Fatal("a read token's write reached the store")
	}
	for _, path := range []string{"/healthz", "/readyz", "/v1/openapi.json"} {
		if code, _ := h.do(http.MethodGet, path, "", nil); code != http.StatusOK {
			t.Errorf("GET %s must stay public: %d", path, code)
		}
	}
	if code, _ := h.do(http.MethodGet, "/v1/bundle", "", nil); code == http.StatusUnauthorized {
		t.Error("GET /v1/bundle must stay public")
	}
}

func TestAnonymousReadsFromLoopback(t *testing.T) {
	h := newAuthServer(t, true)
	if code, body := h.do(http.MethodGet, "/v1/resources/services", "", nil); code != http.StatusOK {
		t.Fatalf("anonymous loopback read: %d %s", code, body)
	}
	req := apiwire.ApplyRequest{Files: []apiwire.File{{Name: "echo.yaml", Content: meshtest.ServiceEcho}}}
	if code, _ := h.do(http.MethodPost, "/v1/apply", "", req); code != http.StatusUnauthorized {
		t.Fatalf("anonymous write: %d", code)
	}
	// A request from elsewhere is refused even with anonymous reads on.
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/v1/resources/services", nil)
	r.RemoteAddr, r.Host = "192.0.2.7:4000", "127.0.0.1:15000"
	NewHandler(Options{Store: h.st, AdminToken: testToken, AnonymousReads: true}).ServeHTTP(rec, r)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("anonymous read from a remote address: %d", rec.Code)
	}
}

func TestCheckAnonymousReads(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:15000", "[::1]:0", "localhost:15000"} {
		if err := CheckAnonymousReads(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"0.0.0.0:15000", ":15000", "10.0.0.2:15000", "example.com:80"} {
		if err := CheckAnonymousReads(bad); err == nil || !strings.Contains(err.Error(), "only allowed when the API listens on a loopback address") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestEnsureReadTokenCreatesOnceAndReadsAgain(t *testing.T) {
	dir := t.TempDir()
	tok, path, created, err := EnsureReadToken(dir, "")
	if err != nil || !created || path != filepath.Join(dir, ReadTokenFile) || len(tok) != 64 {
		t.Fatalf("first call: %q %s %v %v", tok, path, created, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("read token file mode: %v %v", fi.Mode(), err)
	}
	again, _, created, err := EnsureReadToken(dir, "")
	if err != nil || created || again != tok {
		t.Fatalf("second call: created=%v err=%v same=%v", created, err, again == tok)
	}
	own := filepath.Join(dir, "mine")
	if err := os.WriteFile(own, []byte("my-read\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _, _, err := EnsureReadToken(dir, own); err != nil || got != "my-read" {
		t.Fatalf("--read-token-file: %q %v", got, err)
	}
}
