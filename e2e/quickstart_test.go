package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/internal/nettest"
)

// quickstartFence opens the README's code blocks that make up the
// Quickstart; the test runs them, in order, as one shell script.
const quickstartFence = "```sh quickstart"

// quickstartScript returns the README's Quickstart blocks, joined.
func quickstartScript(t *testing.T) string {
	t.Helper()
	f, err := os.Open("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	in, blocks := false, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.TrimSpace(line) == quickstartFence:
			in, blocks = true, blocks+1
		case in && strings.TrimSpace(line) == "```":
			in = false
		case in:
			b.WriteString(line + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if blocks < 2 || in {
		t.Fatalf("README.md has %d complete %q blocks, want the Quickstart and its clean-up", blocks, quickstartFence)
	}
	return b.String()
}

// quickstartDir lays out a directory the README's commands run in
// unchanged: bin/ and examples/quickstart as in the repository, and a
// `make` that has nothing to build (TestMain built the binaries). Only the
// addresses move, so the test never takes a port another process uses:
// embassy-cp and the agents get free ports appended to their flags (the
// last value wins), embassyctl finds the API through EMBASSY_SERVER, and
// the echo servers' 18081/18082 (in the README and in echo.yaml's
// Workloads) become free ports too.
func quickstartDir(t *testing.T) (dir string, env []string) {
	t.Helper()
	dir = t.TempDir()
	xds, api := nettest.FreeAddr(t), nettest.FreeAddr(t)
	v1, v2 := nettest.FreeAddr(t), nettest.FreeAddr(t)
	for _, d := range []string{"bin", "examples/quickstart", ".path"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := func(path, body string) {
		if err := os.WriteFile(filepath.Join(dir, path), []byte("#!/usr/bin/env bash\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script(".path/make", "[ \"$*\" = build ] || { echo \"make $*: only make build is part of the Quickstart\" >&2; exit 2; }\n")
	script("bin/embassy-cp", fmt.Sprintf("exec %s \"$@\" --xds-addr %s --api-addr %s\n", bin("embassy-cp"), xds, api))
	script("bin/embassy-agent", fmt.Sprintf("exec %s \"$@\" --cp %s\n", bin("embassy-agent"), xds))
	script("bin/echo-server", fmt.Sprintf(`args=()
for a in "$@"; do
  case "$a" in 127.0.0.1:18081) a=%s ;; 127.0.0.1:18082) a=%s ;; esac
  args+=("$a")
done
exec %s "${args[@]}"
`, v1, v2, bin("echo-server")))
	for _, name := range []string{"embassyctl", "echo-client"} {
		if err := os.Symlink(bin(name), filepath.Join(dir, "bin", name)); err != nil {
			t.Fatal(err)
		}
	}
	examples, err := filepath.Glob("../examples/quickstart/*.yaml")
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples/quickstart/*.yaml: %v", err)
	}
	ports := strings.NewReplacer("port: 18081", "port: "+portOf(t, v1), "port: 18082", "port: "+portOf(t, v2))
	for _, f := range examples {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "examples/quickstart", filepath.Base(f)), []byte(ports.Replace(string(b))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env = append(os.Environ(), "PATH="+filepath.Join(dir, ".path")+":"+os.Getenv("PATH"), "EMBASSY_SERVER=http://"+api)
	return dir, env
}

// logProblem matches a line any of the Quickstart's processes would print
// about something going wrong: hclog's WARN and ERROR levels, and the
// binaries' own "error:"/"warning:" lines.
var logProblem = regexp.MustCompile(`(?i)\[(WARN|ERROR)\]|^(error|warning|embassy-[a-z]+: error)\b|\berror: `)

// TestQuickstartAsWritten runs the README's Quickstart and its clean-up
// as a new user would, the commands exactly as written, and requires that
// the traffic split, Whoami's SPIFFE ID and the proxies show up and that
// no process of it logs a warning or an error.
func TestQuickstartAsWritten(t *testing.T) {
	dir, env := quickstartDir(t)
	body := quickstartScript(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", body)
	cmd.Dir, cmd.Env = dir, env
	// Every process the script starts writes to the log, and its process
	// group lets the test stop whatever the clean-up block would have
	// left behind.
	logPath := startLogged(t, cmd)
	runErr := cmd.Wait()
	log := readLog(t, logPath)
	t.Logf("the Quickstart's output:\n%s", log)
	if runErr != nil {
		t.Fatalf("the Quickstart failed: %v", runErr)
	}
	for _, want := range []string{"echo-v1.default", "echo-client.default"} {
		if !strings.Contains(log, want) {
			t.Errorf("the Quickstart's output lacks %q", want)
		}
	}
	// proxy-status: the client-only app's agent names no Workload, so its
	// AUTHZ reads as what it is, not as a sync problem; nothing is NOT_SENT.
	if !regexp.MustCompile(`(?m)^echo-client\.default +agent +\S+ +- +- +- +- +NO_WORKLOAD *$`).MatchString(log) || strings.Contains(log, "NOT_SENT") {
		t.Error("proxy-status does not show echo-client's agent as NO_WORKLOAD, or shows a type NOT_SENT")
	}
	// Whoami's one call goes to v1 or v2, as the Route splits.
	if !regexp.MustCompile(`v[12] saw spiffe://example\.org/ns/default/sa/echo-client over tls`).MatchString(log) {
		t.Error("Whoami did not show the client's SPIFFE ID over TLS")
	}
	// describe authz echo-methods, after the calls to Other that the
	// dry-run policy lets through and the agents count: at least the ten
	// the README makes (the client's readiness call may add one).
	if m := regexp.MustCompile(`Decisions: +allow \d+, deny 0, would-deny (\d+), error 0`).FindStringSubmatch(log); m == nil || len(m[1]) < 2 {
		t.Errorf("describe authz echo-methods shows no ten would-denies (%v)", m)
	}
	if !regexp.MustCompile(`v1\D+\d{3}`).MatchString(log) || !regexp.MustCompile(`v2\D+\d{3}`).MatchString(log) {
		t.Error("the Quickstart's output shows no split of the 1,000 calls over v1 and v2")
	}
	for _, line := range strings.Split(log, "\n") {
		if logProblem.MatchString(line) {
			t.Errorf("the Quickstart logged a problem: %s", line)
		}
	}
	for _, left := range []string{"embassy-data", "embassy-run", "bundle.pem", "echo-v1.token", "echo-client.json"} {
		if _, err := os.Stat(filepath.Join(dir, left)); err == nil {
			t.Errorf("the clean-up left %s behind", left)
		}
	}
}
