// Package sandbox runs the control plane's Rego work (compiling a policy,
// partially evaluating it to RBAC, deciding a request with it) in a child
// process under a deadline and a memory budget, so that no policy can hurt
// the process serving the mesh.
//
// Why a process and not a goroutine: OPA has no memory limit, and one
// builtin call such as numbers.range(1, 100000000) allocates gigabytes
// without reaching a cancellation checkpoint, so neither a context nor a
// heap watchdog in the same process can stop it before the kernel kills
// the control plane. A child is bounded by the kernel instead: it lowers
// its own RLIMIT_DATA to the budget above what it already holds before it
// reads its job (so the heap cannot grow past it and the Go runtime dies
// with "out of memory"), sets
// Go's soft memory limit below that so the collector works hard first, and
// is killed when the deadline passes. The parent only ever holds the
// job's answer.
//
// The child is the running executable itself, started with EnvWorker set:
// this package's init notices and serves the one job on its stdin instead
// of running main (or the tests), which is why every binary and test
// binary that imports sandbox can run its work without a hook of its own.
// A job gets a fresh process: a started Go binary answers in milliseconds
// here, and nothing of one policy's evaluation survives into the next.
// A Sandbox runs at most its number of workers at once, so the memory it
// can take is bounded by workers × Limits.Memory; embassy-cp keeps one for
// compiles and one for reads, so that read-token callers queue behind
// each other and never ahead of a push.
package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Defaults of Limits, and the flags of embassy-cp that change them.
const (
	DefaultTimeout = 5 * time.Second
	DefaultMemory  = 512 << 20
	FlagTimeout    = "rego-timeout"
	FlagMemory     = "rego-memory-mib"
	// MinMemory is the smallest budget a child can start a Go runtime
	// and OPA in.
	MinMemory = 64 << 20
	// CompileWorkers and ReadWorkers are how many jobs embassy-cp runs at
	// once for applies and pushes, and for reads (policy eval, /v1/check,
	// the audit); more wait for a slot, within their caller's context.
	CompileWorkers = 2
	ReadWorkers    = 1
	// EnvWorker, set in a child's environment, makes it serve one job.
	EnvWorker = "EMBASSY_REGO_WORKER"
	// maxStderr bounds what of a child's stderr is kept for the error.
	maxStderr = 4 << 10
	// maxAnswer bounds a child's answer, so a policy whose decision or
	// compiled form is huge cannot move its size into the parent.
	maxAnswer = 32 << 20
)

// Limits bound one job.
type Limits struct {
	// Timeout is the wall-clock deadline of one job, from the moment it
	// has a slot; zero means DefaultTimeout.
	Timeout time.Duration
	// Memory is the child's data segment budget in bytes; zero means
	// DefaultMemory.
	Memory int64
}

// withDefaults fills the zero fields.
func (l Limits) withDefaults() Limits {
	if l.Timeout == 0 {
		l.Timeout = DefaultTimeout
	}
	if l.Memory == 0 {
		l.Memory = DefaultMemory
	}
	return l
}

// Sandbox starts children of one executable under one set of Limits. It
// is safe for concurrent use.
type Sandbox struct {
	limits Limits
	exe    string
	slots  chan struct{}
}

// New returns a Sandbox whose children are the running executable, at
// most workers at once.
func New(l Limits, workers int) (*Sandbox, error) {
	l = l.withDefaults()
	if l.Timeout < 0 {
		return nil, fmt.Errorf("--%s %v: want a positive duration", FlagTimeout, l.Timeout)
	}
	if l.Memory < MinMemory {
		return nil, fmt.Errorf("--%s %d: want at least %d (MiB)", FlagMemory, l.Memory>>20, MinMemory>>20)
	}
	if os.Getenv(EnvWorker) != "" {
		// A worker never starts workers: a job cannot fan out.
		return nil, errors.New("the Rego sandbox cannot start inside a sandboxed job")
	}
	exe, err := self()
	if err != nil {
		return nil, fmt.Errorf("finding the executable to run Rego work in: %v", err)
	}
	return &Sandbox{limits: l, exe: exe, slots: make(chan struct{}, max(workers, 1))}, nil
}

// self is the running executable. On Linux it is /proc/self/exe, which
// stays the running binary's file even when an upgrade replaces the file
// at its path, so a child always speaks its parent's job protocol.
func self() (string, error) {
	const procExe = "/proc/self/exe"
	if _, err := os.Stat(procExe); err == nil {
		return procExe, nil
	}
	return os.Executable()
}

// Limits are the sandbox's limits with defaults filled in.
func (s *Sandbox) Limits() Limits { return s.limits }

// LimitError is a job that exceeded a limit; its message names the limit
// and the flag that sets it.
type LimitError struct {
	// Limit is "deadline" or "memory budget".
	Limit string
	Value string
	Flag  string
}

// Error says which limit was exceeded.
func (e *LimitError) Error() string {
	return fmt.Sprintf("exceeded the %s of %s (embassy-cp --%s)", e.Limit, e.Value, e.Flag)
}

// errDeadline is the cause of a job's context ending at its own deadline,
// told apart from its caller's giving up.
var errDeadline = errors.New("the Rego deadline passed")

// request is what a child reads on stdin.
type request struct {
	Kind string          `json:"kind"`
	Job  json.RawMessage `json:"job"`
}

// response is what a child writes on stdout.
type response struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// run sends job to a child and decodes its result into out.
func (s *Sandbox) run(ctx context.Context, kind string, job, out any) error {
	raw, err := json.Marshal(request{Kind: kind, Job: mustJSON(job)})
	if err != nil {
		return err
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting for a Rego worker: %w", ctx.Err())
	}
	defer func() { <-s.slots }()
	ctx, cancel := context.WithTimeoutCause(ctx, s.limits.Timeout, errDeadline)
	defer cancel()
	stdout, err := s.exec(ctx, raw)
	if err != nil {
		return err
	}
	var resp response
	if err := json.Unmarshal(stdout, &resp); err != nil {
		return fmt.Errorf("the Rego worker's answer is not JSON: %v", err)
	}
	if resp.Error != "" {
		return errors.New(resp.Error)
	}
	return json.Unmarshal(resp.Result, out)
}

// exec runs one child with raw on stdin and returns its stdout, turning a
// kill at the deadline and a death from the rlimit into LimitErrors.
func (s *Sandbox) exec(ctx context.Context, raw []byte) ([]byte, error) {
	cmd := exec.CommandContext(ctx, s.exe)
	// The child gets nothing of the parent's environment: no token, no
	// path, no setting reaches the Rego it runs.
	cmd.Env = []string{
		EnvWorker + "=" + strconv.FormatInt(s.limits.Memory, 10),
		"GOMAXPROCS=1",
	}
	cmd.Stdin = bytes.NewReader(raw)
	stdout, stderr := &capped{max: maxAnswer}, &capped{max: maxStderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	switch {
	case err == nil && stdout.dropped:
		return nil, fmt.Errorf("the Rego worker's answer is larger than %d MiB", maxAnswer>>20)
	case err == nil:
		return stdout.buf.Bytes(), nil
	case context.Cause(ctx) == errDeadline:
		return nil, &LimitError{Limit: "deadline", Value: s.limits.Timeout.String(), Flag: FlagTimeout}
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case outOfMemory(stderr.String()) || diedNearBudget(cmd.ProcessState, s.limits.Memory):
		return nil, &LimitError{Limit: "memory budget", Value: fmt.Sprintf("%d MiB", s.limits.Memory>>20), Flag: FlagMemory}
	}
	return nil, fmt.Errorf("the Rego worker failed: %v: %s", err, firstLine(stderr.String()))
}

func mustJSON(v any) json.RawMessage {
	raw, err := json.Marshal(v)
	if err != nil {
		// Jobs are plain structs of strings, bytes and JSON.
		panic(err)
	}
	return raw
}

// capped keeps the first max bytes written to it and drops the rest, so a
// child that prints without end cannot grow the parent.
type capped struct {
	max     int
	buf     bytes.Buffer
	dropped bool
}

func (c *capped) Write(p []byte) (int, error) {
	room := c.max - c.buf.Len()
	if room < len(p) {
		c.dropped = true
	}
	if room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (c *capped) String() string { return c.buf.String() }

// outOfMemory recognises the ways a Go child dies at its RLIMIT_DATA: the
// runtime's heap cannot grow, or (with cgo) a new thread's stack cannot
// be mapped.
func outOfMemory(stderr string) bool {
	for _, sign := range []string{"out of memory", "cannot allocate memory", "pthread_create failed"} {
		if strings.Contains(stderr, sign) {
			return true
		}
	}
	return false
}

// diedNearBudget reports whether a child that failed had used at least
// half its memory budget at its peak. At the rlimit the Go runtime does not
// always get to print its out-of-memory report (a failed mapping can end
// it with a SIGSEGV instead), and a child that failed that close to its
// budget is reported as over it rather than as a crash.
func diedNearBudget(ps *os.ProcessState, budget int64) bool {
	if ps == nil {
		return false
	}
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	// Linux reports Maxrss in KiB.
	return ok && ru.Maxrss*1024 >= budget/2
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
