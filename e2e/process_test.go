package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/client"
)

// proc is a child process whose output is kept for failure messages.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// output returns everything the process printed so far.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// start runs a binary of binDir; it is killed when the test ends.
func start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	return startPath(t, bin(name), args...)
}

// startPath runs the program at path; it is killed when the test ends.
func startPath(t *testing.T, path string, args ...string) *proc {
	t.Helper()
	name := filepath.Base(path)
	p := &proc{t: t, cmd: exec.Command(path, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.stop() })
	return p
}

// stop interrupts the process and waits for it, killing it after 5 s.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// waitFor polls the output until re matches, and returns the submatches.
func (p *proc) waitFor(re *regexp.Regexp, timeout time.Duration) []string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.output()); m != nil {
			return m
		}
		select {
		case <-p.done:
			if m := re.FindStringSubmatch(p.output()); m != nil {
				return m
			}
			p.t.Fatalf("%s exited before printing %q:\n%s", p.cmd.Path, re, p.output())
		case <-time.After(20 * time.Millisecond):
		}
	}
	p.t.Fatalf("%s did not print %q within %s:\n%s", p.cmd.Path, re, timeout, p.output())
	return nil
}

// controlPlane is a running embassy-cp.
type controlPlane struct {
	*proc
	dataDir string
	xds     string
	api     string
}

var servingRE = regexp.MustCompile(`serving xDS on (\S+) and the API on http://(\S+) `)

// startCP starts embassy-cp on dataDir; xdsAddr may be 127.0.0.1:0. xDS
// is plaintext (--insecure-xds): these clients hold no SVID. The trust
// domain is example.org, the one the tests' Meshes name (a Mesh of another
// one than the CA's is refused, with or without TLS). extra flags follow.
func startCP(t *testing.T, dataDir, xdsAddr, apiAddr string, extra ...string) *controlPlane {
	t.Helper()
	args := []string{"--data-dir", dataDir, "--xds-addr", xdsAddr, "--api-addr", apiAddr, "--log-level", "debug", "--insecure-xds",
		"--trust-domain", "example.org"}
	p := start(t, "embassy-cp", append(args, extra...)...)
	m := p.waitFor(servingRE, 20*time.Second)
	return &controlPlane{proc: p, dataDir: dataDir, xds: m[1], api: m[2]}
}

// ctl runs embassyctl against the control plane and returns its output and
// exit code.
func (c *controlPlane) ctl(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin("embassyctl"), args...)
	cmd.Env = append(os.Environ(), "EMBASSY_SERVER=http://"+c.api, "EMBASSY_TOKEN_FILE="+c.dataDir+"/admin-token")
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running embassyctl %s: %v", strings.Join(args, " "), err)
	}
	return string(out), code
}

// mustCtl runs embassyctl and fails the test on a non-zero exit.
func (c *controlPlane) mustCtl(t *testing.T, args ...string) string {
	t.Helper()
	out, code := c.ctl(t, args...)
	if code != 0 {
		t.Fatalf("embassyctl %s exited %d:\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// lines streams a reader's lines to a channel, for clients that print one
// JSON line per interval.
func lines(r io.Reader) <-chan string {
	ch := make(chan string, 64)
	go func() {
		defer close(ch)
		s := bufio.NewScanner(r)
		for s.Scan() {
			ch <- s.Text()
		}
	}()
	return ch
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := dir + "/" + name
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(fmt.Errorf("address %q: %w", addr, err))
	}
	return port
}

var reListening = regexp.MustCompile(`listening on`)

// startSecureCP starts embassy-cp on dataDir with TLS xDS and the identity
// service (no --insecure-xds), signing with the CA in caCert and caKey
// (the provided-CA flags) for trust domain example.org. startMTLSCP starts
// it with the builtin CA.
func startSecureCP(t *testing.T, dataDir, xdsAddr, apiAddr, caCert, caKey string) *controlPlane {
	t.Helper()
	p := start(t, "embassy-cp", "--data-dir", dataDir, "--xds-addr", xdsAddr, "--api-addr", apiAddr, "--log-level", "debug",
		"--ca-cert-file", caCert, "--ca-key-file", caKey, "--trust-domain", "example.org")
	m := p.waitFor(servingRE, 20*time.Second)
	return &controlPlane{proc: p, dataDir: dataDir, xds: m[1], api: m[2]}
}

// waitPushed waits until embassy-cp has pushed the store's current
// revision: an apply returns once stored, and a client that connects in
// between would start on the configuration before it.
func (c *controlPlane) waitPushed(t *testing.T) {
	t.Helper()
	cl := client.New("http://"+c.api, readSecret(t, filepath.Join(c.dataDir, "admin-token")))
	poll.UntilState(t, "embassy-cp to push the store's revision", func() (bool, string) {
		rev, settled := lastPush(t, cl)
		return settled, fmt.Sprintf("last push at revision %d", rev)
	})
}
