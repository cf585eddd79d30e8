package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// startLogged starts cmd in a process group of its own, its output going
// to a file whose path it returns. A file, not a pipe: Wait returns when
// cmd does, not when the children it started let go of the output. The
// group lets cancelling cmd's context, and the test's Cleanup, stop
// whatever cmd left behind.
func startLogged(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), filepath.Base(cmd.Path)+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	return logPath
}

// readLog returns the file at path, as startLogged's callers read it.
func readLog(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
