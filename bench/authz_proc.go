package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// serverProc is a server process the bench started: OPA, the peer
// authorizer, or embassy's own Check server.
type serverProc struct {
	cmd    *exec.Cmd
	exited chan struct{}
	stderr *tailBuffer
	dir    string
}

// launch writes files into a new temporary directory and starts bin there
// with args, its output kept for error messages.
func launch(bin string, args []string, files map[string][]byte) (*serverProc, error) {
	dir, err := os.MkdirTemp("", "embassy-bench-authz-")
	if err != nil {
		return nil, err
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	p := &serverProc{cmd: cmd, exited: make(chan struct{}), stderr: &tailBuffer{max: 4096}, dir: dir}
	cmd.Stdout, cmd.Stderr = p.stderr, p.stderr
	if err := p.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return p, nil
}

func (p *serverProc) start() error {
	stopWithParent(p.cmd)
	if err := p.cmd.Start(); err != nil {
		return err
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	return nil
}

// waitReady calls probe every 50ms until it succeeds, the process exits,
// ctx ends or within passed.
func (p *serverProc) waitReady(ctx context.Context, within time.Duration, what string, probe func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := probe()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before %s answered: %s", p.cmd.Path, what, p.stderr.String())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within %v (%v): %s", what, within, err, p.stderr.String())
		}
	}
}

// CPU is the user and system time the process has used, all threads
// together, from /proc; -1 where there is no /proc.
func (p *serverProc) CPU() time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	// The command name may hold spaces: fields are counted after its ")".
	_, rest, ok := strings.Cut(string(raw), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	// Linux reports these in USER_HZ, 100 per second on every platform it
	// runs on.
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// Stop interrupts the process, kills it if it has not exited within five
// seconds, and removes its files.
func (p *serverProc) Stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
}
