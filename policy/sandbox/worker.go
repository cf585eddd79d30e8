package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
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
	rl := &syscall.Rlimit{Cur: uint64(limit), Max: uint64(limit)}
	if err := syscall.Setrlimit(syscall.RLIMIT_DATA, rl); err != nil {
		fmt.Fprintf(os.Stderr, "rego worker: setting RLIMIT_DATA: %v\n", err)
		return 2
	}
	// Collect hard well before the kernel refuses memory, so a job that
	// fits only with garbage collected still fits.
	debug.SetMemoryLimit(limit / 4 * 3)
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
