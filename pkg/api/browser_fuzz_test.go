package api

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzBrowserGuard: whatever the Host and Content-Type, the guard never
// panics, lets through only a Host that is loopback or configured, and
// lets through a POST only when it is JSON.
func FuzzBrowserGuard(f *testing.F) {
	for _, seed := range [][2]string{
		{"127.0.0.1:15000", "application/json"},
		{"[::1]:80", "application/json; charset=utf-8"},
		{"localhost", "text/plain"},
		{"evil.example", "application/json"},
		{"127.0.0.1.evil.example", ""},
		{"[::ffff:127.0.0.1]", "application/json"},
		{"api.mesh.example.:1", "multipart/form-data; boundary=x"},
		{"LOCALHOST.", "application/JSON"},
		{"[", ";;;"},
		{"0x7f.1", "application/json;"},
	} {
		f.Add(seed[0], seed[1])
	}
	passed := false
	guard := browserGuard(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { passed = true }), []string{"api.mesh.example"})
	f.Fuzz(func(t *testing.T, host, ctype string) {
		passed = false
		r := httptest.NewRequest(http.MethodPost, "/v1/check", nil)
		r.Host = host
		r.Header.Set("Content-Type", ctype)
		w := httptest.NewRecorder()
		guard.ServeHTTP(w, r)
		if w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("Host %q, type %q: no nosniff", host, ctype)
		}
		if !passed {
			return
		}
		n := normalHost(host)
		ip := net.ParseIP(n)
		if n != "localhost" && n != "api.mesh.example" && (ip == nil || !ip.IsLoopback()) {
			t.Fatalf("Host %q (%q) was let through", host, n)
		}
		if !isJSON(ctype) {
			t.Fatalf("Content-Type %q was let through", ctype)
		}
	})
}
