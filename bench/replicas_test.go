package bench

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// replicaChildEnv makes this test binary run a control plane or an etcd
// member for the replicas comparison, as embassy-bench --replica-child
// does. It is read in init, before TestMain, so the child runs no test.
const replicaChildEnv = "EMBASSY_BENCH_REPLICA_CHILD"

func init() {
	if os.Getenv(replicaChildEnv) != "1" {
		return
	}
	if err := ServeReplicaChild(context.Background(), os.Stdin, os.Stdout, os.Stderr); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(0)
}

func testReplicaChild() *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), replicaChildEnv+"=1")
	return cmd
}

// TestReplicasSmoke runs the replicas comparison at a tiny size: one
// control plane, then two sharing a real etcd member, each in a process
// of its own. Every proxy must see and ACK both changes in both shapes
// (the second replica's proxies only through etcd, since every change is
// committed through the first), each replica's own status must list half
// the proxies as connected, each replica's heap must grow with them, and
// every figure of the summary must be there and non-zero for both shapes.
func TestReplicasSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cfg := benchConfig(20, MeshSize{Services: 20, EndpointsPerService: 5, RouteEvery: 10}, 20*time.Millisecond)
	cfg.ConnectTimeout, cfg.ChangeTimeout = 30*time.Second, 30*time.Second
	cfg.Modes, cfg.Runs, cfg.Replicas, cfg.ReplicaCommand = []Mode{SotW}, 1, 2, testReplicaChild
	results, err := RunReplicas(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[Server]int{Single: 1, Replicas: 2}
	if len(results) != len(want) {
		t.Fatalf("got %d phases, want %d", len(results), len(want))
	}
	for _, ph := range results {
		if len(ph.Rows) != 2 {
			t.Fatalf("%s: got %d rows, want 2", ph.Server, len(ph.Rows))
		}
		for _, r := range ph.Rows {
			if r.Observed != cfg.Proxies || r.Acked != cfg.Proxies || r.Bytes <= 0 || r.P50 <= 0 || r.P50 > r.P99 {
				t.Errorf("%s %s: %d proxies saw the change, the servers show %d ACKs, row %+v; want all %d", ph.Server, r.Change, r.Observed, r.Acked, r, cfg.Proxies)
			}
		}
		if len(ph.Processes) != want[ph.Server] {
			t.Fatalf("%s: %d processes measured, want %d", ph.Server, len(ph.Processes), want[ph.Server])
		}
		for k, h := range ph.Processes {
			if h.Proxies != cfg.Proxies/want[ph.Server] || h.After <= h.Before {
				t.Errorf("%s: control plane %d had %d proxies and a heap of %d bytes before them, %d after; want %d proxies and a larger heap", ph.Server, k, h.Proxies, h.Before, h.After, cfg.Proxies/want[ph.Server])
			}
		}
		if onEtcd := ph.EtcdHeap > 0; onEtcd != (ph.Server == Replicas) {
			t.Errorf("%s: etcd member heap %d bytes; want one for the replicas alone", ph.Server, ph.EtcdHeap)
		}
	}
	for _, pt := range points(results) {
		vs, n := mediansOf(results, pt, replicaFigures)
		for k, f := range replicaFigures {
			if f.short == "etcd heap" && pt.server == Single {
				continue
			}
			if n[k] != 1 || vs[k] <= 0 {
				t.Errorf("%s: %s has %d values, median %v", pt.server, f.name, n[k], vs[k])
			}
		}
	}
	var out bytes.Buffer
	if err := WriteReplicaSummary(&out, results, cfg.Replicas); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "replicas×2") || !strings.Contains(out.String(), "cp1 ") {
		t.Errorf("summary:\n%s", out.String())
	}
	t.Logf("\n%s", out.String())
}
