package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/apiwire"
)

// exitOf waits for p to exit by itself within timeout and returns its exit
// code and output.
func exitOf(t *testing.T, p *proc, timeout time.Duration) (int, string) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s still runs after %s, want it to stop by itself:\n%s", p.cmd.Path, timeout, p.output())
	}
	return p.cmd.ProcessState.ExitCode(), p.output()
}

// caRoots are the fingerprints of the control plane's CA roots.
func caRoots(t *testing.T, cp *controlPlane) (string, []string) {
	t.Helper()
	var res apiwire.CARootsResponse
	if err := json.Unmarshal([]byte(cp.ctlStdout(t, "ca", "roots", "-o", "json")), &res); err != nil {
		t.Fatal(err)
	}
	var fps []string
	for _, r := range res.Roots {
		fps = append(fps, r.Fingerprint)
	}
	return res.TrustDomain, fps
}

func TestLostDatabaseIsRefused(t *testing.T) {
	dataDir := t.TempDir()
	cp := startMTLSCP(t, dataDir, "127.0.0.1:0", "127.0.0.1:0", "example.org")
	_, fps := caRoots(t, cp)
	cp.stop()
	otherDir := t.TempDir()
	startMTLSCP(t, otherDir, "127.0.0.1:0", "127.0.0.1:0", "example.org").stop()
	foreign, err := os.ReadFile(filepath.Join(otherDir, "embassy.db"))
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dataDir, "embassy.db")
	for _, lose := range []struct {
		what, says string
		do         func() error
	}{
		{"emptied", "is empty (0 bytes)", func() error { return os.Truncate(db, 0) }},
		{"deleted", "is missing", func() error { return os.Remove(db) }},
		{"another data dir's", "from another data dir", func() error { return os.WriteFile(db, foreign, 0o600) }},
	} {
		if err := lose.do(); err != nil {
			t.Fatal(err)
		}
		p := start(t, "embassy-cp", "--data-dir", dataDir, "--xds-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0")
		code, out := exitOf(t, p, 20*time.Second)
		for _, want := range []string{lose.says, "trust domain example.org", fps[0], "embassy-cp restore --data-dir " + dataDir, "embassyctl backup"} {
			if code == 0 || !strings.Contains(out, want) {
				t.Fatalf("%s database: embassy-cp exited %d, want non-zero and %q in:\n%s", lose.what, code, want, out)
			}
		}
		if strings.Contains(out, "mesh CA") || strings.Contains(out, "serving xDS") {
			t.Errorf("%s database: embassy-cp got as far as a CA or serving:\n%s", lose.what, out)
		}
	}
	if got, err := os.ReadFile(db); err != nil || string(got) != string(foreign) {
		t.Errorf("a refused start changed the database: %v", err)
	}
}

func TestBackupRestoreKeepsTheMesh(t *testing.T) {
	dataDir := t.TempDir()
	cp := startMTLSCP(t, dataDir, "127.0.0.1:0", "127.0.0.1:0", "example.org")
	cp.mustCtl(t, "apply", "-f", writeFile(t, t.TempDir(), "svc.yaml", `apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  ports: [{name: grpc, port: 50051, protocol: grpc}]
`))
	token := strings.TrimSpace(cp.ctlStdout(t, "token", "create", "--namespace", "default", "--service-account", "web", "--workload", "web-1", "--single-use"))
	td, fps := caRoots(t, cp)
	file := filepath.Join(t.TempDir(), "backup.db")
	out := cp.mustCtl(t, "backup", "-o", file)
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 || !strings.Contains(out, "written to "+file) {
		t.Fatalf("backup: %v, %v:\n%s", fi, err, out)
	}
	if strings.Contains(cp.output(), token) {
		t.Error("embassy-cp logged the join token")
	}
	cp.stop()

	if err := os.RemoveAll(dataDir); err != nil {
		t.Fatal(err)
	}
	p := start(t, "embassy-cp", "restore", "--data-dir", dataDir, "--from", file)
	if code, out := exitOf(t, p, 20*time.Second); code != 0 || !strings.Contains(out, "trust domain example.org") {
		t.Fatalf("restore exited %d:\n%s", code, out)
	}
	// A second restore over the restored dir needs --force.
	p = start(t, "embassy-cp", "restore", "--data-dir", dataDir, "--from", file)
	if code, out := exitOf(t, p, 20*time.Second); code == 0 || !strings.Contains(out, "pass --force") {
		t.Fatalf("restore over an initialized dir exited %d:\n%s", code, out)
	}

	cp = startMTLSCP(t, dataDir, "127.0.0.1:0", "127.0.0.1:0", "")
	if gotTD, got := caRoots(t, cp); gotTD != td || strings.Join(got, ",") != strings.Join(fps, ",") {
		t.Fatalf("restored CA = %s %v, want %s %v", gotTD, got, td, fps)
	}
	if out := cp.mustCtl(t, "get", "services", "-n", "default"); !strings.Contains(out, "echo") {
		t.Errorf("restored services:\n%s", out)
	}
	if strings.Contains(cp.output(), "mesh CA created") {
		t.Errorf("the restored control plane made a new CA:\n%s", cp.output())
	}
	// The single-use token made before the backup still attests.
	bundle := writeFile(t, t.TempDir(), "bundle.pem", cp.mustCtl(t, "bundle"))
	dir := agentDir(t, "web-1")
	a := launchAgent(t, dir, "embassy-agent", "web-1", "--cp", cp.xds, "--token-file", writeFile(t, dir, "join.token", token+"\n"), "--trust-bundle", bundle)
	if a.leafOrNil().URIs[0].String() != "spiffe://example.org/ns/default/sa/web" {
		t.Errorf("the restored token attested as %v", a.leafOrNil().URIs)
	}
}

var reRetrying = regexp.MustCompile(`retrying|reconnecting`)

func TestAgentStopsOnATokenThatCannotWork(t *testing.T) {
	cp := startMTLSCP(t, t.TempDir(), "127.0.0.1:0", "127.0.0.1:0", "example.org")
	bundle := writeFile(t, t.TempDir(), "bundle.pem", cp.mustCtl(t, "bundle"))
	for _, c := range []struct {
		what, workload string
		token          []string
		says           []string
	}{
		{"token of another namespace", "x.other", []string{"--namespace", "default", "--service-account", "web"},
			[]string{"--workload x.other names namespace other", "--workload x.default"}},
		{"token of another workload", "x.default", []string{"--namespace", "default", "--service-account", "web", "--workload", "y"},
			[]string{`is for workload "y"`, "attestation refused"}},
		{"registration refused", "x.default", []string{"--namespace", "default", "--service-account", "web"},
			[]string{`refused to register workload "x"`}},
	} {
		dir := agentDir(t, "x")
		token := strings.TrimSpace(cp.ctlStdout(t, append([]string{"token", "create"}, c.token...)...))
		args := []string{"--cp", cp.xds, "--token-file", writeFile(t, dir, "join.token", token+"\n"), "--trust-bundle", bundle,
			"--workload", c.workload, "--socket-dir", filepath.Join(dir, "sock")}
		if c.what == "registration refused" {
			// Without --address the Workload is not valid; the control
			// plane refuses it, as it would any registration it does not
			// allow.
			args = append(args, "--service", "echo")
		}
		p := start(t, "embassy-agent", args...)
		code, out := exitOf(t, p, 20*time.Second)
		for _, want := range c.says {
			if code == 0 || !strings.Contains(out, want) {
				t.Errorf("%s: embassy-agent exited %d, want non-zero and %q in:\n%s", c.what, code, want, out)
			}
		}
		if reRetrying.MatchString(out) {
			t.Errorf("%s: embassy-agent retried what cannot work:\n%s", c.what, out)
		}
	}
}
