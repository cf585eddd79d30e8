package sandbox

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
)

func policy(rego string) *resource.AuthorizationPolicySpec {
	return &resource.AuthorizationPolicySpec{Modules: []resource.RegoModule{{Name: "authz.rego", Rego: rego}}}
}

// runaway asks one builtin call for a 400 MB string (20,000 x's each
// replaced by 20,000), where OPA checks no context: only the child's
// rlimit stops it.
const runaway = `package envoy.authz
xs := concat("", ["x" | some i in numbers.range(1, 20000)])
allow if count(replace(xs, "x", xs)) > 0
`

// spinning loops 400 million times in little memory: only the deadline
// stops it.
const spinning = `package envoy.authz
allow if count([1 | some i in numbers.range(1, 20000); some j in numbers.range(1, 20000); i == j + 20001]) > 0
`

func newSandbox(t *testing.T, l Limits) *Sandbox {
	t.Helper()
	s, err := New(l, 1)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCompileInChildMatchesPolicy(t *testing.T) {
	s := newSandbox(t, Limits{Timeout: 30 * time.Second})
	r, err := s.Compile(context.Background(), "default/get", policy(`package envoy.authz
allow if input.attributes.request.http.method == "GET"
`))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Compiled || len(r.Errors) > 0 {
		t.Fatalf("want RBAC, got %+v", r)
	}
	rules, err := r.Rules()
	if err != nil || len(rules.GetPolicies()) != 1 {
		t.Fatalf("rules %v, %v: want one policy", rules, err)
	}
}

func TestCompileErrorsComeBackWithLocations(t *testing.T) {
	s := newSandbox(t, Limits{Timeout: 30 * time.Second})
	r, err := s.Compile(context.Background(), "default/bad", policy("package envoy.authz\nallow if {\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Errors) == 0 || r.Errors[0].File != "authz.rego" || r.Errors[0].Row == 0 {
		t.Fatalf("want a located parse error, got %+v", r)
	}
}

// TestRunawayMemoryIsBoundedInTheChild is the proof that the budget holds
// where a context cannot: the child dies at its rlimit, and this
// process's peak RSS does not grow by anything like the gigabytes the
// policy asks for.
func TestRunawayMemoryIsBoundedInTheChild(t *testing.T) {
	s := newSandbox(t, Limits{Timeout: 60 * time.Second, Memory: 128 << 20})
	before := peakRSS(t)
	start := time.Now()
	_, err := s.Compile(context.Background(), "default/runaway", policy(runaway))
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "memory budget" {
		t.Fatalf("want the memory budget exceeded, got %v", err)
	}
	if !strings.Contains(err.Error(), "128 MiB") || !strings.Contains(err.Error(), FlagMemory) {
		t.Errorf("error %q should name the budget and its flag", err)
	}
	after := peakRSS(t)
	t.Logf("refused in %v; this process's VmHWM %d -> %d KiB", time.Since(start), before, after)
	if after-before > 64<<10 {
		t.Errorf("VmHWM grew by %d KiB: the work ran in this process", after-before)
	}
}

func TestSpinningPolicyIsKilledAtTheDeadline(t *testing.T) {
	s := newSandbox(t, Limits{Timeout: time.Second})
	start := time.Now()
	_, err := s.Compile(context.Background(), "default/spin", policy(spinning))
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "deadline" || !strings.Contains(err.Error(), "1s") {
		t.Fatalf("want the 1s deadline exceeded, got %v", err)
	}
	// A liveness bound, not a timing assertion: the kill must happen.
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestDecideNeverEvaluatesNetworkPolicies(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Write([]byte(`{"allow": true}`))
	}))
	defer srv.Close()
	spec := policy(`package envoy.authz
allow if http.send({"method": "GET", "url": concat("", ["` + srv.URL + `", input.attributes.request.http.path])}).status_code == 200
`)
	spec.AllowNetwork = true
	b, err := compile.Compile("default/net", spec)
	if err != nil {
		t.Fatal(err)
	}
	s := newSandbox(t, Limits{Timeout: 30 * time.Second})
	r, err := s.Compile(context.Background(), "default/net", spec)
	if err != nil || r.Compiled || !strings.Contains(r.Reason, "allowNetwork") {
		t.Fatalf("compile: %+v, %v: want it kept on ext_authz", r, err)
	}
	input := map[string]any{"attributes": map[string]any{"request": map[string]any{"http": map[string]any{"path": "/x"}}}}
	ds, err := s.Decide(context.Background(), []*compile.Bundle{b}, input)
	if err != nil {
		t.Fatal(err)
	}
	if ds[0].Allowed || !ds[0].Failed || ds[0].Reason != NotEvaluatedNetwork {
		t.Errorf("decision %+v: want a closed failure saying it was not evaluated", ds[0])
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server received %d requests from the control plane's Rego work", n)
	}
}

func TestDecideMatchesTheEngine(t *testing.T) {
	b, err := compile.Compile("default/get", policy(`package envoy.authz
allow if input.method == "GET"
`))
	if err != nil {
		t.Fatal(err)
	}
	s := newSandbox(t, Limits{Timeout: 30 * time.Second})
	for method, want := range map[string]bool{"GET": true, "POST": false} {
		ds, err := s.Decide(context.Background(), []*compile.Bundle{b}, map[string]any{"method": method})
		if err != nil {
			t.Fatal(err)
		}
		if ds[0].Allowed != want || ds[0].Revision != b.Revision() {
			t.Errorf("%s: %+v, want allowed=%t", method, ds[0], want)
		}
	}
}

func TestNewRefusesABudgetTooSmall(t *testing.T) {
	_, err := New(Limits{Memory: 1 << 20}, 1)
	if err == nil || !strings.Contains(err.Error(), FlagMemory) {
		t.Fatalf("want an error naming --%s, got %v", FlagMemory, err)
	}
}

// peakRSS is this process's VmHWM in KiB.
func peakRSS(t *testing.T) int64 {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// BenchmarkDecideInChild measures what a /v1/check pays for its child:
// start, load one policy, decide, answer.
func BenchmarkDecideInChild(b *testing.B) {
	bundle, err := compile.Compile("default/get", policy(`package envoy.authz
allow if input.method == "GET"
`))
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Limits{Timeout: 30 * time.Second}, 1)
	if err != nil {
		b.Fatal(err)
	}
	input := map[string]any{"method": "GET"}
	for b.Loop() {
		if _, err := s.Decide(context.Background(), []*compile.Bundle{bundle}, input); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDeathNearTheBudgetIsTheBudget: a child that dies by a signal after
// filling most of its budget is reported as over the budget, however it
// died; one that died small is not.
func TestDeathNearTheBudgetIsTheBudget(t *testing.T) {
	// The shell holds a 48 MB string, then dies of SIGSEGV as a Go child
	// at its rlimit sometimes does.
	cmd := exec.Command("sh", "-c", `x=$(head -c 48000000 /dev/zero | tr '\0' a); kill -SEGV $$`)
	if err := cmd.Run(); err == nil {
		t.Fatal("the child exited cleanly, want it killed by SIGSEGV")
	}
	if !diedNearBudget(cmd.ProcessState, 64<<20) {
		t.Errorf("a child that died holding 48 MB of a 64 MiB budget is not reported as over it (rusage %+v)", cmd.ProcessState.SysUsage())
	}
	if diedNearBudget(cmd.ProcessState, 1<<30) {
		t.Error("a child that died holding 48 MB of a 1 GiB budget is reported as over it")
	}
	if diedNearBudget(nil, 64<<20) {
		t.Error("a child that never started is reported as over its budget")
	}
}

// TestAJobGetsItsWholeBudget: the budget is the job's own, over what the
// started child already holds. A policy that needs about a third of the
// smallest budget compiles, where a limit counting the runtime's own
// address space against the budget left it a few MiB and refused it.
func TestAJobGetsItsWholeBudget(t *testing.T) {
	s := newSandbox(t, Limits{Timeout: time.Minute, Memory: MinMemory})
	r, err := s.Compile(context.Background(), "default/third", policy(`package envoy.authz
allow if count(numbers.range(1, 200000)) > 0
`))
	if err != nil {
		t.Fatalf("a policy needing a third of the %d MiB budget was refused: %v", MinMemory>>20, err)
	}
	if len(r.Errors) > 0 {
		t.Fatalf("compile errors: %+v", r.Errors)
	}
}
