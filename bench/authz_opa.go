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
	*serverProc
	URL     string
	Version string
}

// startOPA runs the OPA server with policy and data on a free loopback
// port until it answers /health.
func startOPA(ctx context.Context, pin *cpuPin, opa string, policy string, data []byte) (*opaServer, error) {
	version := binaryVersion(ctx, opa)
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	run, args := pin.command(opa, []string{"run", "--server", "--addr", addr, "--log-level", "error", "policy.rego", "data.json"})
	proc, err := launch(run, args, policyFiles(policy, data))
	if err != nil {
		return nil, err
	}
	s := &opaServer{serverProc: proc, URL: "http://" + addr, Version: version}
	c := &http.Client{Timeout: time.Second}
	err = proc.waitReady(ctx, 30*time.Second, "opa /health", func() error {
		resp, err := c.Get(s.URL + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	})
	if err != nil {
		proc.Stop()
		return nil, err
	}
	return s, nil
}

// binaryVersion is the Version: line of `bin version`, as OPA and the
// plugin print it.
func binaryVersion(ctx context.Context, bin string) string {
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		return "unknown version"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(strings.TrimPrefix(first, "Version:"))
}

// policyFiles are the files an OPA process loads: the policy and its data
// document, mounted at data.
func policyFiles(policy string, data []byte) map[string][]byte {
	return map[string][]byte{"policy.rego": []byte(policy), "data.json": data}
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
