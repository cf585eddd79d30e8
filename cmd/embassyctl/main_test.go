package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/status"
	"embassy.dev/embassy/pkg/store"
)

// env is an API server over a memory store, a token file for it, and a
// directory for YAML files.
type env struct {
	t         *testing.T
	st        *store.Memory
	url       string
	tokenFile string
	dir       string
}

func newEnv(t *testing.T, reg status.Registry) *env {
	t.Helper()
	return serveEnv(t, store.NewMemory(), api.Options{Proxies: reg})
}

// serveEnv is env for the API with opts over st, whose admin token it sets
// and writes to the token file.
func serveEnv(t *testing.T, st *store.Memory, opts api.Options) *env {
	t.Helper()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "admin-token")
	if err := os.WriteFile(tokenFile, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts.Store, opts.AdminToken = st, "tok"
	srv := httptest.NewServer(api.NewHandler(opts))
	t.Cleanup(srv.Close)
	return &env{t: t, st: st, url: srv.URL, tokenFile: tokenFile, dir: dir}
}

// file writes a YAML file under the env's directory and returns its path.
func (e *env) file(name, content string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// run runs embassyctl against the env's server with its token.
func (e *env) run(args ...string) (code int, stdout, stderr string) {
	e.t.Helper()
	var out, errOut bytes.Buffer
	args = append([]string{"--server", e.url, "--token-file", e.tokenFile}, args...)
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestApplyPrintsOneLinePerResource(t *testing.T) {
	e := newEnv(t, nil)
	f := e.file("echo.yaml", meshtest.ServiceEcho+"---\n"+meshtest.RouteEcho)

	code, out, errOut := e.run("apply", "-f", f, "--dry-run")
	if code != 0 || out != "service/default/echo created (dry run)\nroute/default/echo created (dry run)\n" {
		t.Fatalf("dry-run apply: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if e.st.Revision() != 0 {
		t.Fatal("a dry run stored something")
	}

	code, out, errOut = e.run("apply", "-f", f)
	if code != 0 || out != "service/default/echo created\nroute/default/echo created\n" {
		t.Fatalf("apply: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, out, _ = e.run("apply", "-f", e.dir)
	if code != 0 || !strings.Contains(out, "service/default/echo unchanged") {
		t.Fatalf("re-apply of the directory: exit %d\n%s", code, out)
	}
}

func TestApplyPrintsEveryErrorAndExits1(t *testing.T) {
	e := newEnv(t, nil)
	bad := e.file("bad.yaml", meshtest.ServiceEcho+"---\n"+strings.Replace(meshtest.RouteEcho, "weight: 1", "weight: -3", 1))
	code, out, errOut := e.run("apply", "-f", bad)
	if code != 1 || out != "" {
		t.Fatalf("bad apply: exit %d, stdout %q", code, out)
	}
	want := "error: " + bad + ": document 1"
	if !strings.Contains(errOut, want) || !strings.Contains(errOut, "spec.rules[0].backends[0].weight") {
		t.Fatalf("stderr does not name file, document and field (want %q):\n%s", want, errOut)
	}
	if e.st.Revision() != 0 {
		t.Fatal("a refused apply stored something")
	}
}

func TestApplyWithoutTokenExplainsWhereToFindIt(t *testing.T) {
	e := newEnv(t, nil)
	f := e.file("echo.yaml", meshtest.ServiceEcho)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--server", e.url, "--token-file", "", "apply", "-f", f}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "missing bearer token: pass --token-file") {
		t.Fatalf("apply without a token: exit %d\n%s", code, errOut.String())
	}
}

func TestGetYAMLRoundTrips(t *testing.T) {
	e := newEnv(t, nil)
	f := e.file("echo.yaml", meshtest.ServiceEcho+"---\n"+meshtest.RouteEcho)
	if code, _, errOut := e.run("apply", "-f", f); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}

	code, out, errOut := e.run("get", "service", "echo", "-o", "yaml")
	if code != 0 {
		t.Fatalf("get -o yaml: exit %d: %s", code, errOut)
	}
	got, err := resource.Decode("out.yaml", []byte(out))
	if err != nil || len(got) != 1 {
		t.Fatalf("get -o yaml output does not decode (%v):\n%s", err, out)
	}
	want, err := e.st.Get(context.Background(), got[0].Key())
	if err != nil || !resource.Equal(got[0], want) {
		t.Fatalf("get -o yaml differs from the stored resource (%v):\n%s", err, out)
	}

	code, out, _ = e.run("get", "services", "-A")
	if code != 0 || !strings.Contains(out, "NAMESPACE") || !strings.Contains(out, "http:8080/http") {
		t.Fatalf("get services table: exit %d\n%s", code, out)
	}
	code, _, errOut = e.run("get", "route", "nope")
	if code != 1 || !strings.Contains(errOut, "Route/default/nope not found") {
		t.Fatalf("get missing route: exit %d\n%s", code, errOut)
	}
}

func TestDiffExitCodes(t *testing.T) {
	e := newEnv(t, nil)
	f := e.file("echo.yaml", meshtest.ServiceEcho)

	code, out, _ := e.run("diff", "-f", f)
	if code != 1 || !strings.Contains(out, "service/default/echo (new)") || !strings.Contains(out, "+kind: Service") {
		t.Fatalf("diff before apply: exit %d\n%s", code, out)
	}
	if code, _, errOut := e.run("apply", "-f", f); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	code, out, _ = e.run("diff", "-f", f)
	if code != 0 || out != "" {
		t.Fatalf("diff after apply: exit %d\n%s", code, out)
	}

	e.file("echo.yaml", strings.Replace(meshtest.ServiceEcho, "8080", "9090", 1))
	code, out, _ = e.run("diff", "-f", f)
	if code != 1 || !strings.Contains(out, "-    port: 8080\n+    port: 9090\n") {
		t.Fatalf("diff after a change: exit %d\n%s", code, out)
	}

	bad := e.file("bad.yaml", "kind: Nope\n")
	code, _, errOut := e.run("diff", "-f", bad)
	if code != 2 || !strings.Contains(errOut, "bad.yaml") {
		t.Fatalf("diff of a bad file: exit %d\n%s", code, errOut)
	}
}

func TestDeleteByNameAndByFile(t *testing.T) {
	e := newEnv(t, nil)
	f := e.file("echo.yaml", meshtest.ServiceEcho+"---\n"+meshtest.RouteEcho)
	if code, _, errOut := e.run("apply", "-f", f); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	code, _, errOut := e.run("delete", "service", "echo")
	if code != 1 || !strings.Contains(errOut, "Route/default/echo") {
		t.Fatalf("delete a referenced service: exit %d\n%s", code, errOut)
	}
	code, out, errOut := e.run("delete", "-f", f)
	if code != 0 || out != "route/default/echo deleted\nservice/default/echo deleted\n" {
		t.Fatalf("delete -f: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

func TestProxyStatusTable(t *testing.T) {
	now := time.Now()
	cds := "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	lds := "type.googleapis.com/envoy.config.listener.v3.Listener"
	reg := meshtest.Registry{{
		ID: "echo-1.default", Flavour: "envoy", XDS: "sotw",
		Types: map[string]status.TypeStatus{
			cds: {VersionSent: "2", VersionAcked: "2", SentAt: now, AckedAt: now},
			lds: {VersionSent: "2", VersionAcked: "1", SentAt: now.Add(-time.Minute), AckedAt: now.Add(-2 * time.Minute),
				LastNack: &status.Nack{Version: "2", Message: "bad listener", Time: now.Add(-time.Minute)}},
		},
	}}
	e := newEnv(t, reg)
	code, out, errOut := e.run("proxy-status")
	if code != 0 {
		t.Fatalf("proxy-status: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[1]), " ") != "echo-1.default envoy sotw SYNCED NACKED NOT_SENT NOT_SENT -" {
		t.Fatalf("proxy-status table:\n%s", out)
	}
}

func TestBootstrapGRPCNamesTheNode(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"bootstrap", "grpc", "--workload", "client.default", "--xds-address", "127.0.0.1:15010"}, &out, &errOut)
	if code != 0 || !strings.Contains(out.String(), `"client.default"`) {
		t.Fatalf("bootstrap grpc: exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	code = run(context.Background(), []string{"bootstrap", "envoy", "--workload", "no-namespace"}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "<workload>.<namespace>") {
		t.Fatalf("bootstrap envoy with a bad workload: exit %d\n%s", code, errOut.String())
	}
}
