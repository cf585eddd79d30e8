package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// OPAModule is the standalone OPA the comparison runs, the server a user
// would otherwise run beside each workload.
const OPAModule = "github.com/open-policy-agent/opa@v1.22.2"

// opaDecisionPath is where the OPA server answers the policy's query.
const opaDecisionPath = "/v1/data/envoy/authz/allow"

// LocateOPA finds an opa binary: on PATH, else in the directory `go
// install` writes to; failing both and when install is set, it runs `go
// install` of OPAModule, saying so on log. The error says why there is
// none.
func LocateOPA(ctx context.Context, install bool, log io.Writer) (string, error) {
	if p, err := exec.LookPath("opa"); err == nil {
		return p, nil
	}
	bin, err := goBinDir(ctx)
	if err != nil {
		return "", fmt.Errorf("opa is not on PATH and `go env` failed: %w", err)
	}
	installed := filepath.Join(bin, "opa")
	if isExecutable(installed) {
		fmt.Fprintf(log, "authz: opa is not on PATH; using %s\n", installed)
		return installed, nil
	}
	if !install {
		return "", fmt.Errorf("opa is not on PATH nor in %s, and installing it was turned off", bin)
	}
	fmt.Fprintf(log, "authz: opa is not on PATH; running `go install %s` (it builds OPA, which takes a few minutes the first time)\n", OPAModule)
	ictx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ictx, "go", "install", OPAModule)
	cmd.Dir = os.TempDir() // outside any module, so ours is not touched
	cmd.Stdout, cmd.Stderr = log, log
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("`go install %s` failed after %v: %w", OPAModule, time.Since(start).Round(time.Second), err)
	}
	if !isExecutable(installed) {
		return "", fmt.Errorf("`go install %s` succeeded but left no %s", OPAModule, installed)
	}
	fmt.Fprintf(log, "authz: installed %s in %v\n", installed, time.Since(start).Round(time.Second))
	return installed, nil
}

// goBinDir is where `go install` puts binaries: GOBIN, else GOPATH's
// first entry's bin.
func goBinDir(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) > 0 && strings.TrimSpace(lines[0]) != "" {
		return strings.TrimSpace(lines[0]), nil
	}
	if len(lines) < 2 || strings.TrimSpace(lines[1]) == "" {
		return "", errors.New("neither GOBIN nor GOPATH is set")
	}
	return filepath.Join(filepath.SplitList(strings.TrimSpace(lines[1]))[0], "bin"), nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// opaServer is a running `opa run --server` on loopback.
type opaServer struct {
	URL     string
	Version string
	cmd     *exec.Cmd
	exited  chan struct{}
	stderr  *tailBuffer
	dir     string
}

// startOPA writes the policy and data to a temporary directory and runs
// the OPA server on a free loopback port until it answers /health.
func startOPA(ctx context.Context, opa string) (*opaServer, error) {
	version := "unknown version"
	if out, err := exec.CommandContext(ctx, opa, "version").Output(); err == nil {
		first, _, _ := strings.Cut(string(out), "\n")
		version = strings.TrimSpace(strings.TrimPrefix(first, "Version:"))
	}
	dir, err := os.MkdirTemp("", "embassy-bench-opa-")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "policy.rego"), []byte(authzPolicy), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "data.json"), authzData, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port, err := freeLoopbackPort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(opa, "run", "--server", "--addr", addr, "--log-level", "error", "policy.rego", "data.json")
	cmd.Dir = dir
	stopWithParent(cmd)
	s := &opaServer{URL: "http://" + addr, Version: version, cmd: cmd, exited: make(chan struct{}), stderr: &tailBuffer{max: 4096}, dir: dir}
	cmd.Stdout, cmd.Stderr = s.stderr, s.stderr
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	go func() { cmd.Wait(); close(s.exited) }()
	if err := s.waitHealthy(ctx, 30*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// waitHealthy polls /health until it answers 200.
func (s *opaServer) waitHealthy(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	c := &http.Client{Timeout: time.Second}
	for {
		resp, err := c.Get(s.URL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("opa exited before answering /health: %s", s.stderr.String())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("opa did not answer %s/health within %v: %s", s.URL, within, s.stderr.String())
		}
	}
}

// Stop interrupts the server, kills it if it has not exited within five
// seconds, and removes its files.
func (s *opaServer) Stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	os.RemoveAll(s.dir)
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// httpDecider opens one keep-alive HTTP client of an OPA-compatible
// decision endpoint (url ending in opaDecisionPath) that POSTs the
// pre-encoded {"input": ...} bodies.
func httpDecider(url string, bodies [][]byte) newDecider {
	return func() (decider, func(), error) {
		tr := &http.Transport{MaxIdleConns: 1, MaxIdleConnsPerHost: 1, DisableCompression: true}
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		d := func(ctx context.Context, i int) (bool, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(bodies[i]))
			if err != nil {
				return false, err
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.Do(req)
			if err != nil {
				return false, err
			}
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			if err != nil {
				return false, err
			}
			if resp.StatusCode != http.StatusOK {
				return false, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(raw))
			}
			var out struct {
				Result *bool `json:"result"`
			}
			if err := json.Unmarshal(raw, &out); err != nil {
				return false, fmt.Errorf("decoding %q: %w", raw, err)
			}
			if out.Result == nil {
				return false, fmt.Errorf("the decision is undefined or not a boolean: %s", raw)
			}
			return *out.Result, nil
		}
		return d, tr.CloseIdleConnections, nil
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.b))
	if s == "" {
		return "(no output)"
	}
	return s
}
