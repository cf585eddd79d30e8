package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/internal/nettest"
)

// split is what echo-client prints with --json: a summary, or one line per
// interval in --interval mode.
type split struct {
	Total      int            `json:"total"`
	Errors     int            `json:"errors"`
	ByBackend  map[string]int `json:"byBackend"`
	FirstError string         `json:"firstError"`
}

const echoMesh = `apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  ports: [{name: grpc, port: 50051, protocol: grpc}]
  serviceAccounts: [default]
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: echo-v1, namespace: default}
spec:
  address: 127.0.0.1
  services: [echo]
  ports: [{name: grpc, port: %s}]
  labels: {version: v1}
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: echo-v2a, namespace: default}
spec:
  address: 127.0.0.1
  services: [echo]
  ports: [{name: grpc, port: %s}]
  labels: {version: v2}
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: echo-v2b, namespace: default}
spec:
  address: 127.0.0.1
  services: [echo]
  ports: [{name: grpc, port: %s}]
  labels: {version: v2}
`

const routeSplit = `apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: echo, namespace: default}
spec:
  service: echo
  rules:
    - backends:
        - {subset: {version: v1}, weight: %d}
        - {subset: {version: v2}, weight: %d}
`

// runClient runs echo-client to completion and returns its summary.
func runClient(t *testing.T, bootstrap string, args ...string) split {
	t.Helper()
	args = append([]string{"--bootstrap", bootstrap, "--target", "xds:///echo.default:50051", "--json"}, args...)
	out, err := exec.Command(bin("echo-client"), args...).Output()
	if err != nil {
		t.Fatalf("echo-client %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	var s split
	if err := json.Unmarshal([]byte(strings.TrimSpace(string(out))), &s); err != nil {
		t.Fatalf("echo-client printed %q: %v", out, err)
	}
	return s
}

// TestProxylessRouting drives gRPC's own xDS client through the mesh: the
// weighted split, moving all traffic with a new Route, removing a backend
// without failed calls, and a control-plane restart on the same data dir.
func TestProxylessRouting(t *testing.T) {
	dir := t.TempDir()
	xdsAddr, apiAddr := nettest.FreeAddr(t), nettest.FreeAddr(t)
	cp := startCP(t, dir+"/data", xdsAddr, apiAddr)

	v1, v2a, v2b := nettest.FreeAddr(t), nettest.FreeAddr(t), nettest.FreeAddr(t)
	start(t, "echo-server", "--addr", v1, "--name", "v1").waitFor(reListening, 10*time.Second)
	start(t, "echo-server", "--addr", v2a, "--name", "v2").waitFor(reListening, 10*time.Second)
	srvB := start(t, "echo-server", "--addr", v2b, "--name", "v2")
	srvB.waitFor(reListening, 10*time.Second)

	meshFile := writeFile(t, dir, "mesh.yaml", fmt.Sprintf(echoMesh, portOf(t, v1), portOf(t, v2a), portOf(t, v2b)))
	cp.mustCtl(t, "apply", "-f", meshFile)
	cp.mustCtl(t, "apply", "-f", writeFile(t, dir, "route-80-20.yaml", fmt.Sprintf(routeSplit, 80, 20)))
	cp.waitPushed(t)
	boot := writeFile(t, dir, "bootstrap.json", cp.mustCtl(t, "bootstrap", "grpc", "--workload", "echo-client.default", "--xds-address", cp.xds))

	t.Run("weighted split 80/20", func(t *testing.T) {
		s := runClient(t, boot, "--count", "1000")
		if s.Errors != 0 || s.Total != 1000 {
			t.Fatalf("want 1000 calls without errors, got %+v", s)
		}
		if got := s.ByBackend["v1"]; got < 750 || got > 850 {
			t.Fatalf("v1 got %d of 1000 calls, want 800±50 (%+v)", got, s)
		}
		t.Logf("split over 1000 calls: %v", s.ByBackend)
	})

	t.Run("shift to v2 and remove a backend without failed calls", func(t *testing.T) {
		client := exec.Command(bin("echo-client"), "--bootstrap", boot, "--target", "xds:///echo.default:50051",
			"--json", "--interval", "100ms", "--duration", "60s") // killed when done
		stdout, err := client.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := client.Start(); err != nil {
			t.Fatal(err)
		}
		defer client.Process.Kill()
		ch := lines(stdout)
		next := func() (split, time.Time) {
			select {
			case l, ok := <-ch:
				if !ok {
					t.Fatal("echo-client stopped printing early")
				}
				var s split
				if err := json.Unmarshal([]byte(l), &s); err != nil {
					t.Fatalf("echo-client printed %q: %v", l, err)
				}
				return s, time.Now()
			case <-time.After(5 * time.Second):
				t.Fatal("no interval line from echo-client within 5s")
			}
			return split{}, time.Time{}
		}
		// Wait until the client is getting answers, with v1 among them.
		for i := 0; ; i++ {
			s, _ := next()
			if s.ByBackend["v1"] > 0 {
				break
			}
			if i > 30 {
				t.Fatalf("no calls reached v1 in the first 3s: %+v", s)
			}
		}
		applied := time.Now()
		cp.mustCtl(t, "apply", "-f", writeFile(t, dir, "route-0-100.yaml", fmt.Sprintf(routeSplit, 0, 100)))
		var converged time.Time
		for converged.IsZero() {
			s, at := next()
			if s.ByBackend["v1"] == 0 && s.Total > 0 {
				converged = at
			}
			// A liveness bound only; the time it took is logged.
			if at.Sub(applied) > 30*time.Second {
				t.Fatalf("calls still reach v1 %s after the 0/100 Route was applied: %+v", at.Sub(applied), s)
			}
		}
		t.Logf("all calls on v2 %s after apply (interval 100ms)", converged.Sub(applied).Round(time.Millisecond))
		// Steady state: every later interval is all v2.
		for i := 0; i < 3; i++ {
			if s, _ := next(); s.ByBackend["v1"] != 0 || s.Errors != 0 {
				t.Fatalf("after convergence an interval still had v1 or errors: %+v", s)
			}
		}

		cp.mustCtl(t, "delete", "workload", "echo-v2b", "-n", "default")
		// Let the deletion converge, then take the backend away: a client
		// that no longer knows the endpoint must not fail a single call.
		for i := 0; i < 10; i++ {
			next()
		}
		srvB.stop()
		// A loaded machine may starve the client for an interval; what
		// counts is that no call fails and calls keep being answered.
		answered := 0
		for i := 0; i < 15; i++ {
			s, _ := next()
			if s.Errors != 0 {
				t.Fatalf("calls failed after the deleted workload's server stopped: %+v", s)
			}
			answered += s.Total
		}
		if answered == 0 {
			t.Fatal("no call was answered in 15 intervals after the deleted workload's server stopped")
		}
	})

	t.Run("restart on the same data dir serves the same configuration", func(t *testing.T) {
		cp.stop()
		cp = startCP(t, cp.dataDir, xdsAddr, apiAddr)
		s := runClient(t, boot, "--count", "200")
		if s.Errors != 0 || s.ByBackend["v2"] != 200 {
			t.Fatalf("after restart want 200 calls on v2 (the 0/100 Route applied before), got %+v", s)
		}
		if out := cp.mustCtl(t, "get", "workloads", "-n", "default"); strings.Contains(out, "echo-v2b") {
			t.Fatalf("the workload deleted before the restart is back:\n%s", out)
		}
	})
}
