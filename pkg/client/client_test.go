package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/store"
)

func newServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(api.NewHandler(api.Options{Store: store.NewMemory(), AdminToken: "tok"}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestClientRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := New(newServer(t)+"/", "tok")

	res, err := c.Apply(ctx, []File{{Name: "echo.yaml", Content: meshtest.ServiceEcho}}, false)
	if err != nil || len(res.Items) != 1 || res.Revision != 1 {
		t.Fatalf("apply: %+v %v", res, err)
	}
	r, err := c.Get(ctx, "services", "", "echo")
	if err != nil || r.Metadata.Namespace != "default" {
		t.Fatalf("get: %+v %v", r, err)
	}
	rs, rev, err := c.List(ctx, "service", "")
	if err != nil || len(rs) != 1 || rev != 1 {
		t.Fatalf("list: %d items at %d: %v", len(rs), rev, err)
	}
	ps, err := c.Proxies(ctx)
	if err != nil || len(ps) != 0 {
		t.Fatalf("proxies: %v %v", ps, err)
	}
	if _, err := c.Delete(ctx, "service", "default", "echo", false); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := c.Get(ctx, "service", "", "echo"); !IsNotFound(err) {
		t.Fatalf("get after delete: %v, want not found", err)
	}
}

func TestClientErrorsCarryStatusMessageAndDetails(t *testing.T) {
	ctx := context.Background()
	url := newServer(t)

	_, err := New(url, "").Apply(ctx, []File{{Name: "echo.yaml", Content: meshtest.ServiceEcho}}, false)
	var ce *Error
	if !errors.As(err, &ce) || ce.StatusCode != http.StatusUnauthorized || !strings.Contains(ce.Message, "missing bearer token") {
		t.Fatalf("apply without a token: %#v", err)
	}

	bad := strings.Replace(meshtest.ServiceEcho, "protocol: http", "protocol: smtp", 1)
	_, err = New(url, "tok").Apply(ctx, []File{{Name: "bad.yaml", Content: bad}}, false)
	if !errors.As(err, &ce) || ce.StatusCode != http.StatusBadRequest || len(ce.Details) == 0 || ce.Details[0].File != "bad.yaml" {
		t.Fatalf("bad apply: %#v", err)
	}
	if err.Error() != ce.Details.Error() {
		t.Fatalf("message %q is not the server's lines %q", err.Error(), ce.Details.Error())
	}
}

func TestReadTokenFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tok")
	if err := os.WriteFile(p, []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tok, err := ReadTokenFile(p); err != nil || tok != "abc" {
		t.Fatalf("ReadTokenFile = %q, %v", tok, err)
	}
	if err := os.WriteFile(p, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTokenFile(p); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty token file: %v", err)
	}
	if _, err := ReadTokenFile(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "--token-file") {
		t.Fatalf("missing token file: %v", err)
	}
}
