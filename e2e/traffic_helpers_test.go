package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"embassy.dev/embassy/internal/echo"
	"embassy.dev/embassy/internal/nettest"
)

// trafficReport is what echo-client --json prints: the split by backend and by
// gRPC status, and latency percentiles in milliseconds.
type trafficReport struct {
	Total      int            `json:"total"`
	Errors     int            `json:"errors"`
	ByBackend  map[string]int `json:"byBackend"`
	ByCode     map[string]int `json:"byCode"`
	FirstError string         `json:"firstError"`
	P50MS      float64        `json:"p50Ms"`
	P99MS      float64        `json:"p99Ms"`
	MaxMS      float64        `json:"maxMs"`
}

func (r trafficReport) String() string {
	return fmt.Sprintf("total=%d byBackend=%v byCode=%v p50=%.1fms p99=%.1fms max=%.1fms firstError=%q",
		r.Total, r.ByBackend, r.ByCode, r.P50MS, r.P99MS, r.MaxMS, r.FirstError)
}

// onlyBackend returns the one backend that answered every successful call,
// or "" when there were several or none.
func (r trafficReport) onlyBackend() string {
	if len(r.ByBackend) != 1 {
		return ""
	}
	for b := range r.ByBackend {
		return b
	}
	return ""
}

// trafficMesh is one control plane with echo servers registered as
// Workloads, and the proxyless client's bootstrap.
type trafficMesh struct {
	cp   *controlPlane
	dir  string
	boot string
	// addrs maps a server's name to where it listens.
	addrs map[string]string
}

// trafficServer describes one echo-server process and its Workload.
type trafficServer struct {
	name     string
	services []string
	labels   map[string]string
	args     []string
}

// startServers starts every server and applies a plaintext Mesh, a Service
// per service name (port grpc 50051) and a Workload per server.
func (m *trafficMesh) startServers(t *testing.T, servers []trafficServer) {
	t.Helper()
	var services []string
	seen := map[string]bool{}
	// Plaintext: these tests are about traffic, and the client's bootstrap
	// carries no certificates.
	docs := []string{`apiVersion: embassy.dev/v1alpha1
kind: Mesh
metadata: {name: default}
spec:
  trustDomain: example.org
  mtls: {mode: DISABLED}
`}
	for _, s := range servers {
		addr := nettest.FreeAddr(t)
		m.addrs[s.name] = addr
		start(t, "echo-server", append([]string{"--addr", addr, "--name", s.name}, s.args...)...).waitFor(reListening, 10*time.Second)
		var labels []string
		for k, v := range s.labels {
			labels = append(labels, k+": "+v)
		}
		sort.Strings(labels)
		docs = append(docs, fmt.Sprintf(`apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: %s, namespace: default}
spec:
  address: 127.0.0.1
  services: [%s]
  ports: [{name: grpc, port: %s}]
  labels: {%s}
`, s.name, strings.Join(s.services, ", "), portOf(t, addr), strings.Join(labels, ", ")))
		for _, svc := range s.services {
			if !seen[svc] {
				seen[svc] = true
				services = append(services, svc)
			}
		}
	}
	for _, svc := range services {
		docs = append(docs, fmt.Sprintf(`apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: %s, namespace: default}
spec:
  ports: [{name: grpc, port: 50051, protocol: grpc}]
  serviceAccounts: [default]
`, svc))
	}
	m.apply(t, "mesh", strings.Join(docs, "---\n"))
}

// apply writes YAML to a file and applies it with embassyctl.
func (m *trafficMesh) apply(t *testing.T, name, yaml string) {
	t.Helper()
	m.cp.mustCtl(t, "apply", "-f", writeFile(t, m.dir, name+".yaml", yaml))
}

// call runs echo-client against xds:///<svc>.default:50051 and returns
// what it reports. A run in which no call succeeded exits 1 but still reports.
func (m *trafficMesh) call(t *testing.T, svc string, args ...string) trafficReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args = append([]string{"--bootstrap", m.boot, "--target", "xds:///" + svc + ".default:50051", "--json"}, args...)
	cmd := exec.CommandContext(ctx, bin("echo-client"), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1 && len(out) > 0) {
		t.Fatalf("echo-client %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	var r trafficReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("echo-client %s printed %q (%v)\n%s", strings.Join(args, " "), out, err, stderr.String())
	}
	return r
}

// served asks a server directly, outside the mesh, how many Call and Other
// attempts it has received.
func (m *trafficMesh) served(t *testing.T, name string) uint64 {
	t.Helper()
	cc, err := grpc.NewClient(m.addrs[name], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := echo.Served(ctx, cc)
	if err != nil {
		t.Fatalf("Served of %s: %v", name, err)
	}
	return n
}

// awaitBehaviour runs probe until it reports the expected behaviour, at most 40
// times and for at most 20 s, and returns how long that took. Each probe is
// a fresh client, so it sees the configuration served at that moment.
func awaitBehaviour(t *testing.T, what string, probe func() (bool, trafficReport)) time.Duration {
	t.Helper()
	start := time.Now()
	var last trafficReport
	for i := 0; i < 40 && time.Since(start) < 20*time.Second; i++ {
		ok, r := probe()
		if ok {
			t.Logf("%s after %s (%d probes)", what, time.Since(start).Round(time.Millisecond), i+1)
			return time.Since(start)
		}
		last = r
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("never saw %s within %s; last probe: %s", what, time.Since(start).Round(time.Millisecond), last)
	return 0
}
