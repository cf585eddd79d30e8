package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

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
	logPath := filepath.Join(t.TempDir(), "demo.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.CommandContext(ctx, "bash", "../scripts/demo.sh")
	cmd.Env = append(os.Environ(), "BIN="+binDir, "DEMO_KEEP=0")
	// A file, not a pipe: Wait must not wait for the demo's children.
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	runErr := cmd.Wait()
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
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
