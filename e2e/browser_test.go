package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/internal/meshtest"
)

// browserCall is what a web page could make a browser send to the API:
// its own Host name (DNS rebinding) or a text/plain body (a cross-site
// simple request, which needs no CORS preflight).
type browserCall struct {
	method, path, host, ctype, token, body string
}

func (c browserCall) send(t *testing.T, api string) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, c.method, "http://"+api+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.host != "" {
		req.Host = c.host
	}
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Origin", "http://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for k := range resp.Header {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			t.Errorf("%s %s answered with CORS header %s", c.method, c.path, k)
		}
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s %s: no X-Content-Type-Options: nosniff", c.method, c.path)
	}
	return resp, string(b)
}

// TestAPIRefusesBrowserAttacks runs embassy-cp with anonymous reads, the
// setting a page could exploit most, and makes the calls a page could:
// reads and writes by a rebound name and text/plain posts. Every one is
// refused and none changes the store, while embassyctl and loopback
// callers keep working.
func TestAPIRefusesBrowserAttacks(t *testing.T) {
	dir := t.TempDir()
	p := start(t, "embassy-cp", "--data-dir", dir, "--xds-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--insecure-xds",
		"--trust-domain", "example.org", "--anonymous-reads", "--api-host", "mesh-api.test")
	m := p.waitFor(servingRE, 20*time.Second)
	cp := &controlPlane{proc: p, dataDir: dir, xds: m[1], api: m[2]}
	admin, err := os.ReadFile(filepath.Join(dir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(admin))
	apply := `{"files":[{"name":"echo.yaml","content":` + jsonQuote(meshtest.ServiceEcho) + `}]}`
	check := `{"source":{"namespace":"default","serviceAccount":"web"},"destination":{"service":"echo","namespace":"default"},"request":{"method":"GET","path":"/"}}`

	for _, c := range []browserCall{
		{method: "GET", path: "/v1/resources/services", host: "evil.example"},
		{method: "GET", path: "/v1/status", host: "evil.example:" + portOf(t, cp.api)},
		{method: "GET", path: "/v1/services", host: "rebind.evil.example."},
		{method: "POST", path: "/v1/check", host: "evil.example", ctype: "application/json", body: check},
		{method: "POST", path: "/v1/apply", host: "evil.example", ctype: "application/json", token: token, body: apply},
	} {
		if resp, body := c.send(t, cp.api); resp.StatusCode != http.StatusMisdirectedRequest || !strings.Contains(body, "--api-host") {
			t.Errorf("%s %s with Host %s: %d %s, want 421 naming --api-host", c.method, c.path, c.host, resp.StatusCode, body)
		}
	}
	for _, c := range []browserCall{
		{method: "POST", path: "/v1/check", ctype: "text/plain", body: check},
		{method: "POST", path: "/v1/check", ctype: "application/x-www-form-urlencoded", body: "a=" + check},
		{method: "POST", path: "/v1/apply", ctype: "text/plain", token: token, body: apply},
		{method: "POST", path: "/v1/tokens", ctype: "text/plain", token: token, body: `{"namespace":"default","serviceAccount":"web","workload":"web-1"}`},
	} {
		if resp, body := c.send(t, cp.api); resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(body, "application/json") {
			t.Errorf("%s %s as %s: %d %s, want 415 naming application/json", c.method, c.path, c.ctype, resp.StatusCode, body)
		}
	}
	pre := browserCall{method: "OPTIONS", path: "/v1/check"}
	if resp, body := pre.send(t, cp.api); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("preflight: %d %s, want 405", resp.StatusCode, body)
	}

	// Nothing was written: no Service, no token.
	if out := cp.mustCtl(t, "get", "services"); strings.Contains(out, "echo") {
		t.Fatalf("a refused apply stored a Service:\n%s", out)
	}
	if out := cp.mustCtl(t, "token", "list"); strings.Contains(out, "web-1") {
		t.Fatalf("a refused token request made a token:\n%s", out)
	}

	// Loopback and configured names still read anonymously, and
	// embassyctl still writes and checks.
	for _, host := range []string{"", "localhost:" + portOf(t, cp.api), "mesh-api.test"} {
		c := browserCall{method: "GET", path: "/v1/resources/services", host: host}
		if resp, body := c.send(t, cp.api); resp.StatusCode != http.StatusOK {
			t.Errorf("anonymous read with Host %q: %d %s", host, resp.StatusCode, body)
		}
	}
	writeFile(t, dir, "echo.yaml", meshtest.ServiceEcho)
	cp.mustCtl(t, "apply", "-f", filepath.Join(dir, "echo.yaml"))
	if out := cp.mustCtl(t, "get", "services"); !strings.Contains(out, "echo") {
		t.Fatalf("embassyctl apply did not store the Service:\n%s", out)
	}
	c := browserCall{method: "POST", path: "/v1/check", ctype: "application/json", body: check}
	if resp, body := c.send(t, cp.api); resp.StatusCode == http.StatusMisdirectedRequest || resp.StatusCode == http.StatusUnsupportedMediaType {
		t.Fatalf("a JSON check from loopback was refused: %d %s", resp.StatusCode, body)
	}
}

// TestAPIHostFlagIsChecked: a URL given as --api-host stops embassy-cp at
// start with a message naming the flag, rather than refusing every call.
func TestAPIHostFlagIsChecked(t *testing.T) {
	p := start(t, "embassy-cp", "--data-dir", t.TempDir(), "--xds-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--insecure-xds",
		"--api-host", "http://mesh-api.test/")
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("embassy-cp did not exit:\n%s", p.output())
	}
	if p.cmd.ProcessState.ExitCode() == 0 || !strings.Contains(p.output(), `--api-host "http://mesh-api.test/"`) {
		t.Fatalf("exit %d, want non-zero with a message naming --api-host:\n%s", p.cmd.ProcessState.ExitCode(), p.output())
	}
}

func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
