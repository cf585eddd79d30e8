package demoha

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"time"
)

// proc is a child process whose output goes to a file in the demo's
// directory, read back to find what it printed.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// start runs the binary name of d.bin with args, its output in
// <work>/<label>.log. A child dies with the demo (Pdeathsig), so an
// interrupted demo leaves no process behind even when its cleanup does
// not run.
func (d *demo) start(label, name string, args ...string) (*proc, error) {
	p := &proc{name: label, cmd: exec.Command(filepath.Join(d.bin, name), args...), log: filepath.Join(d.work, label+".log"), done: make(chan struct{})}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.Env = d.env
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", label, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	d.mu.Lock()
	d.procs = append(d.procs, p)
	d.mu.Unlock()
	return p, nil
}

// output is what p printed so far.
func (p *proc) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// waitFor waits until p's output matches re, and returns the submatches;
// it fails when p exits first or within passes.
func (p *proc) waitFor(re *regexp.Regexp, within time.Duration) ([]string, error) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.output()); m != nil {
			return m, nil
		}
		select {
		case <-p.done:
			if m := re.FindStringSubmatch(p.output()); m != nil {
				return m, nil
			}
			return nil, fmt.Errorf("%s exited before printing %q; its output (%s):\n%s", p.name, re, p.log, tail(p.output()))
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("%s did not print %q within %s; its output (%s):\n%s", p.name, re, within, p.log, tail(p.output()))
}

// kill ends p with SIGKILL and waits for it.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// stop interrupts p and waits for it, killing it after 5 s.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.kill()
	}
}

// tail is the last lines of a process's output, for an error.
func tail(s string) string {
	const keep = 3000
	if len(s) > keep {
		return "..." + s[len(s)-keep:]
	}
	return s
}

// freeAddr is a 127.0.0.1 address nothing listens on now. The demo
// picks its addresses up front, since a restarted replica must come back
// where the bootstraps point.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
