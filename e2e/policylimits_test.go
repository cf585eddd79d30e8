package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/apply"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
	"embassy.dev/embassy/policy/sandbox"
)

// limitsPolicy is an AuthorizationPolicy on echo whose rule is cond.
func limitsPolicy(name, cond, extra string) string {
	return `apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata:
  name: ` + name + `
spec:
  targets:
    services: [echo]` + extra + `
  modules:
  - name: ` + name + `.rego
    rego: |
      package envoy.authz
      allow if ` + cond + `
`
}

var (
	// runawayPolicy asks one builtin call for a 400 MB string (20,000
	// x's each replaced by 20,000), with no cancellation checkpoint inside
	// the call: it passes any budget at once, loaded machine or not.
	runawayPolicy = limitsPolicy("runaway", `count(replace(concat("", ["x" | some i in numbers.range(1, 20000)]), "x", concat("", ["x" | some i in numbers.range(1, 20000)]))) > 0`, "")
	// spinningPolicy loops 400 million times in little memory.
	spinningPolicy = limitsPolicy("spinning", "count([1 | some i in numbers.range(1, 20000); some j in numbers.range(1, 20000); i == j + 20001]) > 0", "")
)

// workloadEcho backs echo, so that policies targeting echo apply to it.
const workloadEcho = `apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata:
  name: echo-1
spec:
  address: 127.0.0.1
  services: [echo]
  serviceAccount: echo
`

// limitsMesh is echo with a workload and a route whose timeout is given.
func limitsMesh(timeout string) string {
	return meshtest.ServiceEcho + "---\n" + workloadEcho + "---\n" + routeEchoTimeout(timeout)
}

// budgetFlags give the sandbox a small budget, so the runaway dies at it
// long before the (default) deadline even on a loaded machine.
var budgetFlags = []string{"--" + sandbox.FlagMemory, "128"}

// routeEchoTimeout is meshtest.RouteEcho with a request timeout, so its
// push can be seen.
func routeEchoTimeout(timeout string) string {
	return meshtest.RouteEcho + "    timeout: " + timeout + "\n"
}

// TestRunawayPolicyCannotHurtTheControlPlane: a policy that would allocate
// gigabytes, and one that would spin for minutes, are refused at apply
// naming the limit, while embassy-cp's own memory stays small; later
// changes are still pushed; the runaway stored anyway (as by an older
// embassy-cp) neither blocks nor kills a restart, fails closed and is
// reported; deleting it clears it.
func TestRunawayPolicyCannotHurtTheControlPlane(t *testing.T) {
	dir, work := t.TempDir(), t.TempDir()
	cp := startCP(t, dir, "127.0.0.1:0", "127.0.0.1:0", budgetFlags...)
	cp.mustCtl(t, "apply", "-f", writeFile(t, work, "mesh.yaml", limitsMesh("5s")))

	began := time.Now()
	out, code := cp.ctl(t, "apply", "-f", writeFile(t, work, "runaway.yaml", runawayPolicy))
	expectRefused(t, out, code, "runaway.yaml", "default/runaway", "memory budget of 128 MiB", "--"+sandbox.FlagMemory)
	t.Logf("runaway refused in %v:\n%s", time.Since(began), out)
	began = time.Now()
	out, code = cp.ctl(t, "apply", "-f", writeFile(t, work, "spinning.yaml", spinningPolicy))
	expectRefused(t, out, code, "spinning.yaml", "default/spinning", "deadline of 5s", "--"+sandbox.FlagTimeout)
	t.Logf("spinning refused in %v", time.Since(began))

	hwm := procStatusKiB(t, cp.cmd.Process.Pid, "VmHWM")
	t.Logf("embassy-cp VmHWM after both: %d KiB", hwm)
	if hwm > 256<<10 {
		t.Errorf("embassy-cp's peak RSS is %d KiB: the policies' work ran in it", hwm)
	}
	cp.mustCtl(t, "apply", "-f", writeFile(t, work, "mesh.yaml", limitsMesh("7s")))
	waitRouteTimeout(t, cp, "7s")
	cp.stop()

	storeBehindApply(t, dir, runawayPolicy)
	began = time.Now()
	cp = startCP(t, dir, "127.0.0.1:0", "127.0.0.1:0", budgetFlags...)
	waitReady(t, cp)
	t.Logf("restart with the runaway stored: ready in %v", time.Since(began))
	if list := cp.mustCtl(t, "policy", "list"); !strings.Contains(list, "runaway") || !strings.Contains(list, "error") {
		t.Errorf("policy list does not show runaway failed:\n%s", list)
	}
	var ps struct {
		Policies []struct {
			Name     string `json:"name"`
			Compiled bool   `json:"compiled"`
			Error    string `json:"error"`
		} `json:"policies"`
	}
	if err := json.Unmarshal([]byte(authzAPIGet(t, cp, "/v1/policies")), &ps); err != nil {
		t.Fatal(err)
	}
	if len(ps.Policies) != 1 || ps.Policies[0].Compiled || !strings.Contains(ps.Policies[0].Error, "memory budget of 128 MiB") {
		t.Errorf("/v1/policies does not report runaway failed at the budget: %+v", ps.Policies)
	}
	if ev := authzAPIGet(t, cp, "/v1/events"); !strings.Contains(ev, "AuthorizationPolicy/default/runaway") || !strings.Contains(ev, "every request to its targets is denied") {
		t.Errorf("no event reports runaway failed:\n%s", ev)
	}
	if a := checkEcho(t, cp); a.Allowed {
		t.Errorf("/v1/check allows a request to echo, whose policy failed: %+v", a)
	}
	// The audit reads the compiled policies rather than compiling again.
	authzAPIGet(t, cp, "/v1/posture")
	if hwm := procStatusKiB(t, cp.cmd.Process.Pid, "VmHWM"); hwm > 256<<10 {
		t.Errorf("the restarted embassy-cp's peak RSS is %d KiB", hwm)
	}
	waitRouteTimeout(t, cp, "7s")

	cp.mustCtl(t, "delete", "authorizationpolicy", "runaway")
	cp.mustCtl(t, "apply", "-f", writeFile(t, work, "mesh.yaml", limitsMesh("9s")))
	waitRouteTimeout(t, cp, "9s")
	if a := checkEcho(t, cp); !a.Allowed {
		t.Errorf("/v1/check denies echo after the failed policy was deleted: %+v", a)
	}
}

// TestHTTPSendNeverRunsInTheControlPlane: http.send is refused at apply
// with its file and line; opted in with allowNetwork, the policy goes to
// the agents only, and neither /v1/check (read token) nor policy eval
// makes embassy-cp send a request.
func TestHTTPSendNeverRunsInTheControlPlane(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	dir, work := t.TempDir(), t.TempDir()
	cp := startCP(t, dir, "127.0.0.1:0", "127.0.0.1:0")
	cp.mustCtl(t, "apply", "-f", writeFile(t, work, "mesh.yaml", limitsMesh("5s")))

	cond := `http.send({"method": "GET", "url": concat("", ["` + srv.URL + `", input.attributes.request.http.path])}).status_code == 200`
	out, code := cp.ctl(t, "apply", "-f", writeFile(t, work, "ssrf.yaml", limitsPolicy("ssrf", cond, "")))
	expectRefused(t, out, code, "ssrf.yaml", "ssrf.rego:2:", "http.send", "spec.allowNetwork")

	cp.mustCtl(t, "apply", "-f", writeFile(t, work, "ssrf.yaml", limitsPolicy("ssrf", cond, "\n  allowNetwork: true")))
	if explain := cp.mustCtl(t, "policy", "explain", "ssrf"); !strings.Contains(explain, "allowNetwork") {
		t.Errorf("explain does not say why ssrf stays on ext_authz:\n%s", explain)
	}
	if a := checkEcho(t, cp); a.Allowed || !strings.Contains(fmt.Sprint(a.Reasons), sandbox.NotEvaluatedNetwork) {
		t.Errorf("/v1/check: %+v, want a closed failure naming allowNetwork", a)
	}
	input := writeFile(t, work, "input.json", `{"attributes": {"request": {"http": {"method": "GET", "path": "/steal"}}}}`)
	if out := cp.mustCtl(t, "policy", "eval", "ssrf", "--input", input); !strings.Contains(out, "allowNetwork") {
		t.Errorf("policy eval does not say it did not evaluate ssrf:\n%s", out)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("embassy-cp sent %d requests for a policy's http.send", n)
	}
}

func expectRefused(t *testing.T, out string, code int, wants ...string) {
	t.Helper()
	if code == 0 {
		t.Fatalf("apply was accepted:\n%s", out)
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("apply's error does not name %q:\n%s", w, out)
		}
	}
}

// storeBehindApply writes a policy straight into the stopped control
// plane's store, compiled but not partially evaluated, as a store written
// by an embassy-cp without the sandbox could hold it.
func storeBehindApply(t *testing.T, dataDir, doc string) {
	t.Helper()
	rs, err := resource.Decode("stored.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenBolt(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := apply.New(st).Apply(context.Background(), rs, false); err != nil {
		t.Fatal(err)
	}
}

// checkAnswer is the part of /v1/check's answer these tests read.
type checkAnswer struct {
	Allowed bool     `json:"allowed"`
	Reasons []string `json:"reasons"`
}

// checkEcho asks POST /v1/check about GET /steal on echo with the read
// token, as any status reader could.
func checkEcho(t *testing.T, cp *controlPlane) checkAnswer {
	t.Helper()
	token, err := os.ReadFile(filepath.Join(cp.dataDir, "read-token"))
	if err != nil {
		t.Fatal(err)
	}
	body := `{"from": "spiffe://example.org/ns/default/sa/x", "to": "echo", "method": "GET", "path": "/steal"}`
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+cp.api+"/v1/check", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a checkAnswer
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &a) != nil {
		t.Fatalf("/v1/check: %s\n%s", resp.Status, raw)
	}
	return a
}

// waitReady polls /readyz for at most 20s.
func waitReady(t *testing.T, cp *controlPlane) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + cp.api + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("embassy-cp was not ready within 20s:\n%s", cp.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitRouteTimeout fetches an Envoy node's configuration until echo's
// route carries the timeout, for at most 20 fetches over 20s.
func waitRouteTimeout(t *testing.T, cp *controlPlane, timeout string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < 20; i++ {
		f := fetchSotW(t, cp.xds, envoyNode("probe.default", false), nil)
		for _, rc := range f.routes {
			raw, err := protojson.Marshal(rc)
			if err == nil && strings.Contains(string(raw), `"timeout":"`+timeout+`"`) {
				return
			}
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no route with timeout %s was pushed", timeout)
}

// procStatusKiB reads a field such as VmHWM (peak RSS) of a process.
func procStatusKiB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
