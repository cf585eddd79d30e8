package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/store"
)

// browserHarness is an API with anonymous reads (the riskiest setting)
// and one extra name, api.mesh.example.
func browserHarness(t *testing.T) (*httptest.Server, *store.Memory) {
	t.Helper()
	h := serve(t, Options{AnonymousReads: true, APIHosts: []string{"API.mesh.example"}})
	return h.srv, h.st
}

// send sends a request with Host host (the URL's when empty), the given
// Content-Type (none when empty) and extra headers, and returns the
// response and its body.
func send(t *testing.T, srv *httptest.Server, method, path, host, ctype, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func applyBody() string {
	return `{"files":[{"name":"echo.yaml","content":` + jsonString(meshtest.ServiceEcho) + `}]}`
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestForeignHostIsRefused(t *testing.T) {
	srv, st := browserHarness(t)
	for _, host := range []string{"evil.example", "evil.example:15000", "127.0.0.1.evil.example", "localhost.evil.example", "0.0.0.0", "[::]:15000", "10.1.2.3:15000"} {
		resp, body := send(t, srv, http.MethodGet, "/v1/resources/services", host, "", "")
		if resp.StatusCode != http.StatusMisdirectedRequest || !strings.Contains(errorOf(t, []byte(body)).Error, "--api-host") {
			t.Errorf("GET with Host %q: %d %s, want 421 naming --api-host", host, resp.StatusCode, body)
		}
		resp, body = send(t, srv, http.MethodPost, "/v1/apply", host, apiwire.JSONContentType, applyBody(), "Authorization", "Bearer "+testToken)
		if resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("apply with Host %q: %d %s, want 421", host, resp.StatusCode, body)
		}
	}
	if st.Revision() != 0 {
		t.Fatal("an apply with a foreign Host reached the store")
	}
}

func TestLoopbackAndConfiguredHostsAreServed(t *testing.T) {
	srv, _ := browserHarness(t)
	for _, host := range []string{"", "localhost", "LOCALHOST:15000", "127.0.0.1", "127.8.9.10:80", "[::1]:15000", "[::1]", "api.mesh.example", "Api.Mesh.Example.:15000"} {
		if resp, body := send(t, srv, http.MethodGet, "/v1/resources/services", host, "", ""); resp.StatusCode != http.StatusOK {
			t.Errorf("GET with Host %q: %d %s", host, resp.StatusCode, body)
		}
	}
}

func TestWritesMustBeJSON(t *testing.T) {
	srv, st := browserHarness(t)
	auth := []string{"Authorization", "Bearer " + testToken}
	for _, ct := range []string{"", "text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/yaml", "application/jsonx"} {
		resp, body := send(t, srv, http.MethodPost, "/v1/apply", "", ct, applyBody(), auth...)
		if resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(errorOf(t, []byte(body)).Error, "Content-Type: application/json") {
			t.Errorf("apply as %q: %d %s, want 415 naming the type to send", ct, resp.StatusCode, body)
		}
		// /v1/check is a read, so anonymous loopback callers reach it:
		// exactly what a page's cross-site text/plain POST would be.
		if resp, body := send(t, srv, http.MethodPost, "/v1/check", "", ct, `{}`); resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("check as %q: %d %s, want 415", ct, resp.StatusCode, body)
		}
		if resp, body := send(t, srv, http.MethodDelete, "/v1/resources/services/echo", "", ct, "", auth...); resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("delete as %q: %d %s, want 415", ct, resp.StatusCode, body)
		}
	}
	if st.Revision() != 0 {
		t.Fatal("a write that was not JSON reached the store")
	}
	if resp, body := send(t, srv, http.MethodPost, "/v1/apply", "", "application/json; charset=utf-8", applyBody(), auth...); resp.StatusCode != http.StatusOK {
		t.Fatalf("JSON apply: %d %s", resp.StatusCode, body)
	}
	if resp, body := send(t, srv, http.MethodPost, "/v1/check", "", apiwire.JSONContentType, `{}`); resp.StatusCode == http.StatusUnsupportedMediaType {
		t.Fatalf("JSON check refused for its type: %s", body)
	}
}

func TestNoCORSAndNoSniff(t *testing.T) {
	srv, _ := browserHarness(t)
	origin := []string{"Origin", "http://evil.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type,authorization"}
	resp, body := send(t, srv, http.MethodOptions, "/v1/apply", "", "", "", origin...)
	if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(body, "CORS") {
		t.Errorf("preflight: %d %s, want 405 saying there is no CORS", resp.StatusCode, body)
	}
	checks := []*http.Response{resp}
	for _, path := range []string{"/v1/resources/services", "/healthz", "/v1/bundle", "/no/such/route"} {
		r, _ := send(t, srv, http.MethodGet, path, "", "", "", origin...)
		checks = append(checks, r)
	}
	r, _ := send(t, srv, http.MethodGet, "/healthz", "evil.example", "", "")
	checks = append(checks, r)
	r, _ = send(t, srv, http.MethodPost, "/v1/check", "", "text/plain", "{}")
	checks = append(checks, r)
	for _, r := range checks {
		for k := range r.Header {
			if strings.HasPrefix(strings.ToLower(k), "access-control-") {
				t.Errorf("%s %s answered with CORS header %s", r.Request.Method, r.Request.URL.Path, k)
			}
		}
		if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s (%d): X-Content-Type-Options %q, want nosniff", r.Request.Method, r.Request.URL.Path, r.StatusCode, got)
		}
	}
}

func TestAPIHostsAddTheListenHost(t *testing.T) {
	for addr, want := range map[string]string{
		"10.0.0.5:15000":     "x,10.0.0.5",
		"[fd00::5]:15000":    "x,fd00::5",
		"api.internal:15000": "x,api.internal",
		"0.0.0.0:15000":      "x",
		"[::]:15000":         "x",
		":15000":             "x",
		"127.0.0.1:15000":    "x,127.0.0.1",
		"not an address":     "x",
	} {
		if got := strings.Join(APIHosts(addr, []string{"x"}), ","); got != want {
			t.Errorf("APIHosts(%q) = %s, want %s", addr, got, want)
		}
	}
}

func TestCheckAPIHosts(t *testing.T) {
	if err := CheckAPIHosts([]string{"api.mesh.example", "10.0.0.5", "::1", "[fd00::1]", "api:15000"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "http://api.example", "api.example/v1", "user@api", "a b"} {
		if err := CheckAPIHosts([]string{bad}); err == nil || !strings.Contains(err.Error(), "--api-host") {
			t.Errorf("%q: %v, want an error naming --api-host", bad, err)
		}
	}
}
