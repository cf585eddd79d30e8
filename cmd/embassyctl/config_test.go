package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"embassy.dev/embassy/internal/meshtest"
)

// envOf is a getenv over a fixed map.
func envOf(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestConfigPrecedenceFlagsEnvFileDefaults(t *testing.T) {
	dir := t.TempDir()
	xdg := filepath.Join(dir, "xdg")
	if err := os.MkdirAll(filepath.Join(xdg, "embassy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(xdg, "embassy", "config.yaml"), []byte("server: http://from-file:15000\ntokenFile: tokens/admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fileToken := filepath.Join(xdg, "embassy", "tokens", "admin")
	cases := []struct {
		name               string
		env                map[string]string
		config             string
		serverSet, tokSet  bool
		wantServer, wantTk string
	}{
		{"defaults without a config file", map[string]string{"HOME": filepath.Join(dir, "nohome")}, "", false, false, defaultServer, ""},
		{"XDG config file", map[string]string{"XDG_CONFIG_HOME": xdg}, "", false, false, "http://from-file:15000", fileToken},
		{"env over config file", map[string]string{"XDG_CONFIG_HOME": xdg, "EMBASSY_SERVER": "http://from-env:1", "EMBASSY_TOKEN_FILE": "/env/token"}, "", false, false, "http://from-env:1", "/env/token"},
		{"flags over env", map[string]string{"XDG_CONFIG_HOME": xdg, "EMBASSY_SERVER": "http://from-env:1", "EMBASSY_TOKEN_FILE": "/env/token"}, "", true, true, "http://from-flag:2", "/flag/token"},
		{"~/.config without XDG", map[string]string{"HOME": filepath.Dir(xdg), "XDG_CONFIG_HOME": ""}, "", false, false, defaultServer, ""},
	}
	for _, c := range cases {
		g := &globals{}
		if c.serverSet {
			g.server = "http://from-flag:2"
		}
		if c.tokSet {
			g.tokenFile = "/flag/token"
		}
		if err := resolveGlobals(g, c.config, c.serverSet, c.tokSet, envOf(c.env)); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if g.server != c.wantServer || g.tokenFile != c.wantTk {
			t.Errorf("%s: server %q token %q, want %q %q", c.name, g.server, g.tokenFile, c.wantServer, c.wantTk)
		}
	}

	// ~/.config/embassy/config.yaml is the default without XDG_CONFIG_HOME.
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".config", "embassy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".config", "embassy", "config.yaml"), []byte("server: http://home:3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := &globals{}
	if err := resolveGlobals(g, "", false, false, envOf(map[string]string{"HOME": home})); err != nil || g.server != "http://home:3" {
		t.Fatalf("~/.config file: server %q, err %v", g.server, err)
	}
}

func TestConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	if err := resolveGlobals(&globals{}, filepath.Join(dir, "missing.yaml"), false, false, envOf(nil)); err == nil {
		t.Fatal("a --config file that does not exist was not an error")
	}
	typo := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(typo, []byte("server: http://x:1\ntokenPath: /t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := resolveGlobals(&globals{}, typo, false, false, envOf(nil))
	if err == nil || !strings.Contains(err.Error(), "tokenPath") {
		t.Fatalf("an unknown key was not refused by name: %v", err)
	}
	if err := resolveGlobals(&globals{}, "", false, false, envOf(map[string]string{"EMBASSY_CONFIG": filepath.Join(dir, "nope.yaml")})); err == nil {
		t.Fatal("a missing $EMBASSY_CONFIG file was not an error")
	}
}

func TestConfigFileDrivesACommand(t *testing.T) {
	e := newEnv(t, nil)
	e.file("echo.yaml", meshtest.ServiceEcho)
	cfg := e.file("config.yaml", "server: "+e.url+"\ntokenFile: admin-token\n")
	t.Setenv("EMBASSY_SERVER", "")
	t.Setenv("EMBASSY_TOKEN_FILE", "")
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--config", cfg, "apply", "-f", filepath.Join(e.dir, "echo.yaml")}, &out, &errOut)
	if code != 0 || out.String() != "service/default/echo created\n" {
		t.Fatalf("apply with --config: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	// A flag still wins over the file: the server named here is not there.
	out.Reset()
	errOut.Reset()
	code = run(context.Background(), []string{"--config", cfg, "--server", "http://127.0.0.1:1", "get", "services"}, &out, &errOut)
	if code == 0 || !strings.Contains(errOut.String(), "127.0.0.1:1") {
		t.Fatalf("--server did not win over the config file: exit %d\n%s", code, errOut.String())
	}
}

func TestHelpDocumentsTheConfigFile(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &out, &errOut); code != 0 {
		t.Fatalf("--help exited %d", code)
	}
	for _, want := range []string{"--config", "config.yaml", "tokenFile:", "EMBASSY_SERVER", "win over"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help does not mention %q:\n%s", want, out.String())
		}
	}
}
