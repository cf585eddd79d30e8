package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
)

// init serves the job when this process is a sandbox child, before any
// main or TestMain runs, and exits.
func init() {
	budget := os.Getenv(EnvWorker)
	if budget == "" {
		return
	}
	os.Exit(serve(budget, os.Stdin, os.Stdout))
}

// serve bounds this process's memory to budget bytes, runs the job read
// from in and writes the response to out. The exit code is 0 whenever a
// response was written, job errors included.
func serve(budget string, in io.Reader, out io.Writer) int {
	limit, err := strconv.ParseInt(budget, 10, 64)
	if err != nil || limit < MinMemory {
		fmt.Fprintf(os.Stderr, "rego worker: %s=%q is not a memory budget\n", EnvWorker, budget)
		return 2
	}
	// The budget is the job's: the runtime and the binary's own data take
	// over 100 MiB of VmData before any job runs (the heap arena index
	// alone is 32 MiB of address space), so a limit of the budget alone
	// would leave a policy a few MiB and fail a harmless one at random.
	data := limit + vmData()
	rl := &syscall.Rlimit{Cur: uint64(data), Max: uint64(data)}
	if err := syscall.Setrlimit(syscall.RLIMIT_DATA, rl); err != nil {
		fmt.Fprintf(os.Stderr, "rego worker: setting RLIMIT_DATA: %v\n", err)
		return 2
	}
	// Collect hard as the heap nears the budget, so a job that fits only
	// with garbage collected still fits. At the budget, not below it: a
	// soft limit under the hard one makes a runaway thrash the collector
	// for seconds before the kernel refuses it, and it is then refused
	// for the deadline instead of its memory.
	debug.SetMemoryLimit(limit)
	return handle(in, out, os.Stderr)
}

// handle reads one job from in, runs it and writes the response to out;
// what cannot be answered goes to errOut, with exit code 2.
func handle(in io.Reader, out, errOut io.Writer) int {
	var req request
	if err := json.NewDecoder(in).Decode(&req); err != nil {
		fmt.Fprintf(errOut, "rego worker: reading the job: %v\n", err)
		return 2
	}
	result, jobErr := dispatch(req)
	resp := response{}
	if jobErr != nil {
		resp.Error = jobErr.Error()
	} else {
		resp.Result = mustJSON(result)
	}
	if err := json.NewEncoder(out).Encode(resp); err != nil {
		fmt.Fprintf(errOut, "rego worker: writing the answer: %v\n", err)
		return 2
	}
	return 0
}

// dispatch runs one job by kind.
func dispatch(req request) (any, error) {
	switch req.Kind {
	case kindCompile:
		var j compileJob
		if err := json.Unmarshal(req.Job, &j); err != nil {
			return nil, err
		}
		return runCompile(j)
	case kindDecide:
		var j decideJob
		if err := json.Unmarshal(req.Job, &j); err != nil {
			return nil, err
		}
		return runDecide(j), nil
	}
	return nil, fmt.Errorf("unknown job kind %q", req.Kind)
}

// vmData is this process's data segment now, in bytes, as RLIMIT_DATA
// counts it; zero where /proc does not say.
func vmData() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmData:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kib << 10
		}
	}
	return 0
}
