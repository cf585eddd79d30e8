package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startDemo starts `make demo`'s script with DEMO_KEEP=keep, as
// startLogged does.
func startDemo(t *testing.T, ctx context.Context, keep string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, "bash", "../scripts/demo.sh")
	cmd.Env = append(os.Environ(), "BIN="+binDir, "DEMO_KEEP="+keep)
	return cmd, startLogged(t, cmd)
}

// TestDemoPicksFreePorts runs `make demo`'s script with the echo servers'
// first port, 18081, held by the test (when nothing else holds it
// already): the demo must serve on other ports, print the dashboard's
// URL, show the dry-run policy's would-denies, and exit cleanly.
func TestDemoPicksFreePorts(t *testing.T) {
	if l, err := net.Listen("tcp", "127.0.0.1:18081"); err == nil {
		t.Cleanup(func() { l.Close() })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd, logPath := startDemo(t, ctx, "0")
	runErr := cmd.Wait()
	out := readLog(t, logPath)
	if runErr != nil {
		t.Fatalf("the demo failed: %v\n%s", runErr, out)
	}
	if !regexp.MustCompile(`Dashboard: http://127\.0\.0\.1:\d+/ui`).MatchString(out) {
		t.Errorf("the demo printed no dashboard URL:\n%s", out)
	}
	m := regexp.MustCompile(`Starting echo v1 \(127\.0\.0\.1:(\d+)\) and echo v2 \(127\.0\.0\.1:(\d+)\)`).FindStringSubmatch(out)
	if m == nil || m[1] == "18081" || m[1] == m[2] {
		t.Errorf("the echo servers' ports %v: want two free ports, not the held 18081:\n%s", m, out)
	}
	if !regexp.MustCompile(`Decisions: +allow \d+, deny 0, would-deny [1-9]\d*`).MatchString(out) || strings.Contains(out, "demo: ") {
		t.Errorf("the demo showed no would-denies, or died:\n%s", out)
	}
}

// TestDemoKeepStaysUp runs the demo with DEMO_KEEP=1 as an operator who
// wants to look around: it must stay up with the dashboard it printed
// serving, without a token, the mesh it made, and on Ctrl-C (SIGINT to
// its process group) stop everything and remove its directory.
func TestDemoKeepStaysUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd, logPath := startDemo(t, ctx, "1")
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var out string
	for up := false; !up; {
		select {
		case err := <-exited:
			t.Fatalf("the demo exited (%v) instead of staying up:\n%s", err, readLog(t, logPath))
		case <-ctx.Done():
			t.Fatalf("the demo never said it is still running:\n%s", readLog(t, logPath))
		case <-time.After(200 * time.Millisecond):
		}
		out = readLog(t, logPath)
		up = strings.Contains(out, "Still running (Ctrl-C to stop)")
	}
	m := regexp.MustCompile(`Dashboard: (http://127\.0\.0\.1:\d+)/ui \(reads need no token`).FindStringSubmatch(out)
	work := regexp.MustCompile(`agents' certificates: (\S+)/agents/`).FindStringSubmatch(out)
	if m == nil || work == nil {
		t.Fatalf("the kept demo names no dashboard or directory:\n%s", out)
	}
	for path, want := range map[string]string{"/ui/": "<html", "/v1/proxies": `"echo-v1.default"`} {
		if body := httpGet(t, m[1]+path); !strings.Contains(body, want) {
			t.Errorf("GET %s without a token lacks %q:\n%.400s", m[1]+path, want, body)
		}
	}

	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("the demo did not stop within 30s of Ctrl-C:\n%s", readLog(t, logPath))
	}
	if _, err := os.Stat(work[1]); !os.IsNotExist(err) {
		t.Errorf("the demo left %s behind (%v)", work[1], err)
	}
	if _, err := http.Get(m[1] + "/healthz"); err == nil {
		t.Errorf("embassy-cp still answers at %s after Ctrl-C", m[1])
	}
}

// httpGet reads url's body, failing the test on any error or status but 200.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%s", url, resp.StatusCode, err, b)
	}
	return string(b)
}
