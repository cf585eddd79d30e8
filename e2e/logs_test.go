package e2e

import (
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"embassy.dev/embassy/internal/meshtest"
)

// logsAgentOnce builds embassy-agent into binDir unless TestMain did.
var logsAgentOnce sync.Once

func logsAgentBinary(t *testing.T) {
	t.Helper()
	var err error
	logsAgentOnce.Do(func() {
		if _, statErr := os.Stat(bin("embassy-agent")); statErr == nil {
			return
		}
		out, buildErr := exec.Command("go", "build", "-o", binDir+"/", "../cmd/embassy-agent").CombinedOutput()
		if buildErr != nil {
			err = &buildError{out: string(out), err: buildErr}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return "building embassy-agent: " + e.err.Error() + "\n" + e.out }

// logsStartCP starts embassy-cp with TLS xDS, the builtin CA and the
// identity service, logging at debug level.
func logsStartCP(t *testing.T, dataDir string) *controlPlane {
	t.Helper()
	p := start(t, "embassy-cp", "--data-dir", dataDir, "--xds-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--log-level", "debug")
	m := p.waitFor(servingRE, 20*time.Second)
	return &controlPlane{proc: p, dataDir: dataDir, xds: m[1], api: m[2]}
}

const logsRoute = `apiVersion: embassy.dev/v1alpha1
kind: Route
metadata:
  name: echo
spec:
  service: echo
  rules:
  - timeout: 2s
    backends:
    - weight: 1
---
apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata:
  name: echo-authz
spec:
  targets:
    services: [echo]
  modules:
  - name: authz.rego
    rego: |
      package envoy.authz
      default allow := true
`

var joinTokenRE = regexp.MustCompile(`(?m)^emb1\.\S+$`)

// TestLogsNeverHoldSecrets runs a whole flow with the real binaries at
// debug level (token create, an agent attesting with TLS xDS, applies,
// reads with the read token) and fails when any output of embassy-cp or
// embassy-agent holds a token, a PEM private key, or the agent's key.
func TestLogsNeverHoldSecrets(t *testing.T) {
	logsAgentBinary(t)
	work := t.TempDir()
	cp := logsStartCP(t, filepath.Join(work, "data"))

	cp.mustCtl(t, "apply", "-f", writeFile(t, work, "service.yaml", meshtest.ServiceEcho))
	tokenOut := cp.mustCtl(t, "token", "create", "--namespace", "default", "--service-account", "echo", "--workload", "echo-v1", "--single-use")
	joinToken := joinTokenRE.FindString(tokenOut)
	if joinToken == "" {
		t.Fatalf("token create printed no emb1. token:\n%s", tokenOut)
	}
	tokenFile := writeFile(t, work, "join.token", joinToken+"\n")
	bundle := writeFile(t, work, "bundle.pem", cp.mustCtl(t, "bundle"))

	sockDir, err := os.MkdirTemp("", "emb-logs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	agent := start(t, "embassy-agent", "--cp", cp.xds, "--token-file", tokenFile, "--trust-bundle", bundle,
		"--workload", "echo-v1.default", "--socket-dir", sockDir, "--address", "127.0.0.1", "--service", "echo",
		"--port", "http=8080", "--log-level", "debug")
	agent.waitFor(regexp.MustCompile(`embassy-agent: serving SDS`), 20*time.Second)

	cp.mustCtl(t, "apply", "-f", writeFile(t, work, "route.yaml", logsRoute))
	readToken := filepath.Join(cp.dataDir, "read-token")
	if out := cp.mustCtl(t, "--token-file", readToken, "get", "workloads"); !strings.Contains(out, "echo-v1") {
		t.Fatalf("the agent's workload is not registered:\n%s", out)
	}
	cp.mustCtl(t, "--token-file", readToken, "proxy-status")
	cp.mustCtl(t, "--token-file", readToken, "describe", "service", "echo")
	cp.mustCtl(t, "certs")

	keyPEM, err := os.ReadFile(filepath.Join(sockDir, "svid-key.pem"))
	if err != nil {
		t.Fatalf("the agent wrote no key: %v\n%s", err, agent.output())
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		t.Fatalf("svid-key.pem holds no PEM block")
	}
	keyB64 := base64.StdEncoding.EncodeToString(block.Bytes)

	// Let a rotation-free moment of debug logging pass, then stop both so
	// every buffered line is out.
	time.Sleep(500 * time.Millisecond)
	agent.stop()
	cp.stop()

	secrets := map[string]string{
		"the admin token":          readSecret(t, filepath.Join(cp.dataDir, "admin-token")),
		"the read token":           readSecret(t, readToken),
		"the join token":           joinToken,
		"the join token's secret":  joinToken[strings.LastIndex(joinToken, ".")+1:],
		"a PEM private key":        "PRIVATE KEY",
		"the agent's key (base64)": keyB64,
		// A line may wrap or cut base64; a 24-character run is enough to
		// say the key leaked.
		"part of the agent's key": keyB64[len(keyB64)/2 : len(keyB64)/2+24],
	}
	outputs := map[string]string{"embassy-cp": cp.output(), "embassy-agent": agent.output()}
	for who, out := range outputs {
		if !strings.Contains(out, "[DEBUG]") {
			t.Errorf("%s logged nothing at --log-level debug:\n%s", who, out)
		}
		for what, s := range secrets {
			if s == "" {
				t.Fatalf("%s is empty: the test would prove nothing", what)
			}
			if i := strings.Index(out, s); i >= 0 {
				t.Errorf("%s's output holds %s:\n%s", who, what, excerpt(out, i))
			}
		}
	}
	for who, want := range map[string]string{"embassy-cp": "embassy-cp.xds", "embassy-agent": "embassy-agent.agent"} {
		if !strings.Contains(outputs[who], want) {
			t.Errorf("%s has no line from its %q sub-logger", who, want)
		}
	}
}

// readSecret reads a token file, trimmed.
func readSecret(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// excerpt is the line around index i, for a failure message that does
// not itself print the whole secret-laden output.
func excerpt(s string, i int) string {
	start := strings.LastIndex(s[:i], "\n") + 1
	end := strings.Index(s[i:], "\n")
	if end < 0 {
		return s[start:]
	}
	return s[start : i+end]
}
