package ui_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/store"
	"embassy.dev/embassy/pkg/ui"
)

const (
	adminToken = "ui-test-admin-token"
	readToken  = "ui-test-read-token"
)

// newAPI serves the whole API, as embassy-cp does, without anonymous reads.
func newAPI(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(api.NewHandler(api.Options{Store: store.NewMemory(), AdminToken: adminToken, ReadTokens: []string{readToken}}))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, path, host string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	c := *srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestDashboardIsServedByTheAPI: the pages load without a token, with a
// policy that lets them run only their own scripts, while the data they
// read still needs one; the pages carry no token, and a rebound Host is
// refused for them as for the API.
func TestDashboardIsServedByTheAPI(t *testing.T) {
	srv := newAPI(t)
	resp, body := get(t, srv, ui.Path, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `<main id="page"`) {
		t.Fatalf("GET %s: %d\n%s", ui.Path, resp.StatusCode, body)
	}
	for h, want := range map[string]string{
		"Content-Security-Policy": "script-src 'self'",
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Content-Type":            "text/html",
	} {
		if got := resp.Header.Get(h); !strings.Contains(got, want) {
			t.Errorf("GET %s: %s = %q, want it to contain %q", ui.Path, h, got, want)
		}
	}
	if strings.Contains(body, adminToken) || strings.Contains(body, readToken) {
		t.Errorf("the page holds a token:\n%s", body)
	}
	if resp, body := get(t, srv, "/v1/status", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v1/status without a token next to the dashboard: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, srv, "/ui", ""); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != ui.Path {
		t.Errorf("GET /ui: %d to %q, want a redirect to %s", resp.StatusCode, resp.Header.Get("Location"), ui.Path)
	}
	if resp, body := get(t, srv, ui.Path, "evil.example"); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("GET %s by a rebound name: %d %s", ui.Path, resp.StatusCode, body)
	}
	if resp, _ := get(t, srv, ui.Path+"nothing.js", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET %snothing.js: %d, want 404", ui.Path, resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+ui.Path, strings.NewReader("{}"))
	req.Header.Set("Content-Type", apiwire.JSONContentType)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Errorf("POST %s: %s, want it refused: the dashboard takes no writes", ui.Path, resp.Status)
	}
}

var refRE = regexp.MustCompile(`(?:src|href)="([^"#]+)"`)

// TestPagesLoadOnlyTheirOwnFiles: every script and style the page names
// is served, with its type, from the binary; nothing comes from another
// origin (no CDN), which the Content-Security-Policy would block anyway.
func TestPagesLoadOnlyTheirOwnFiles(t *testing.T) {
	srv := newAPI(t)
	_, index := get(t, srv, ui.Path, "")
	types := map[string]string{".js": "text/javascript", ".css": "text/css"}
	refs := refRE.FindAllStringSubmatch(index, -1)
	if len(refs) < 3 {
		t.Fatalf("index.html names %d files, want its scripts and style", len(refs))
	}
	for _, m := range refs {
		ref := m[1]
		if ref == "data:," {
			continue // the empty icon, so the browser asks for no favicon
		}
		if strings.Contains(ref, "//") || strings.HasPrefix(ref, "/") {
			t.Errorf("index.html loads %q, not a file of its own", ref)
			continue
		}
		resp, body := get(t, srv, ui.Path+ref, "")
		if resp.StatusCode != http.StatusOK || body == "" {
			t.Errorf("GET %s%s: %d", ui.Path, ref, resp.StatusCode)
		}
		if want := types[filepath.Ext(ref)]; !strings.HasPrefix(resp.Header.Get("Content-Type"), want) {
			t.Errorf("GET %s%s: Content-Type %q, want %s", ui.Path, ref, resp.Header.Get("Content-Type"), want)
		}
	}
}

// TestScriptsNeverWriteHTML: the pages show what the mesh reports (NACK
// messages, names, Rego errors) as text nodes only, so none of it can
// become markup or script in the operator's browser.
func TestScriptsNeverWriteHTML(t *testing.T) {
	sinks := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(|https?://[a-z]`)
	err := fs.WalkDir(os.DirFS("static"), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".js" {
			return err
		}
		b, err := os.ReadFile(filepath.Join("static", path))
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			// The SVG namespace is a name, not a place the page loads from.
			line = strings.ReplaceAll(line, "http://www.w3.org/2000/svg", "")
			if sinks.MatchString(line) {
				t.Errorf("%s:%d: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
