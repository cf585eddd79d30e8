package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"embassy.dev/embassy/internal/etcdtest"
	"embassy.dev/embassy/internal/nettest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/store"
)

// replicaSet is embassy-cp replicas that each run a member of one etcd
// cluster (--etcd-embedded).
type replicaSet struct {
	args [][]string
	cps  []*controlPlane
}

// startReplicas starts n replicas at once (a member waits for a majority
// of its peers), each with the extra flags, and returns once each serves.
func startReplicas(t *testing.T, n int, extra ...string) *replicaSet {
	t.Helper()
	peers := make([]string, n)
	for i := range peers {
		peers[i] = fmt.Sprintf("r%d=http://%s", i, nettest.FreeAddr(t))
	}
	rs := &replicaSet{}
	root, kek := t.TempDir(), etcdtest.KEKFile(t)
	for i := range n {
		rs.args = append(rs.args, []string{"--data-dir", filepath.Join(root, fmt.Sprintf("r%d", i)),
			"--xds-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--trust-domain", "example.org",
			"--etcd-embedded", "--etcd-name", fmt.Sprintf("r%d", i), "--etcd-peers", strings.Join(peers, ","),
			"--etcd-client-url", "http://" + nettest.FreeAddr(t), "--etcd-timeout", "2s", "--ca-key-encryption-key-file", kek})
		rs.args[i] = append(rs.args[i], extra...)
	}
	procs := make([]*proc, n)
	for i := range n {
		procs[i] = start(t, "embassy-cp", rs.args[i]...)
	}
	for i, p := range procs {
		rs.cps = append(rs.cps, replicaServing(t, p, rs.args[i][1]))
	}
	return rs
}

// replicaServing waits for p to serve.
func replicaServing(t *testing.T, p *proc, dataDir string) *controlPlane {
	t.Helper()
	m := p.waitFor(servingRE, 90*time.Second)
	return &controlPlane{proc: p, dataDir: dataDir, xds: m[1], api: m[2]}
}

// restart starts replica i again on its data dir and flags.
func (rs *replicaSet) restart(t *testing.T, i int) *proc {
	t.Helper()
	return start(t, "embassy-cp", rs.args[i]...)
}

// kill ends replica i with SIGKILL.
func (rs *replicaSet) kill(i int) {
	_ = rs.cps[i].cmd.Process.Kill()
	<-rs.cps[i].done
}

// readyz returns /readyz's status and body.
func readyz(t *testing.T, cp *controlPlane) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + cp.api + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// serviceDoc is a Service to apply.
func serviceDoc(name string) string {
	return fmt.Sprintf("apiVersion: embassy.dev/v1alpha1\nkind: Service\nmetadata: {name: %s, namespace: default}\n"+
		"spec:\n  ports: [{name: http, port: 80, protocol: http}]\n", name)
}

func TestReplicasOnEmbeddedEtcdSurviveAMinorityAndRecover(t *testing.T) {
	rs := startReplicas(t, 3, "--insecure-xds")
	dir := t.TempDir()
	apply := func(cp *controlPlane, name string) (string, int) {
		return cp.ctl(t, "apply", "-f", writeFile(t, dir, name+".yaml", serviceDoc(name)))
	}
	if out, code := apply(rs.cps[0], "first"); code != 0 {
		t.Fatalf("apply on r0: %s", out)
	}
	if out := rs.cps[2].mustCtl(t, "get", "service", "-A"); !strings.Contains(out, "first") {
		t.Fatalf("r2 does not list what r0 applied:\n%s", out)
	}

	// One replica (and its etcd member, perhaps the leader) dies: the
	// others go on, once etcd has elected a leader if it must.
	rs.kill(0)
	poll.Until(t, "an apply on r1 to succeed with r0 dead", func() bool {
		_, code := apply(rs.cps[1], "second")
		return code == 0
	})
	if code, body := readyz(t, rs.cps[2]); code != http.StatusOK {
		t.Fatalf("r2 /readyz with r0 dead = %d %s", code, body)
	}

	// A second one dies: no quorum. The last refuses writes and says why.
	rs.kill(1)
	poll.Until(t, "r2 to report the lost quorum", func() bool {
		code, body := readyz(t, rs.cps[2])
		return code == http.StatusServiceUnavailable && strings.Contains(body, "no quorum")
	})
	out, code := apply(rs.cps[2], "refused")
	if code == 0 || !strings.Contains(out, "no quorum") {
		t.Fatalf("apply on r2 without a quorum exited %d:\n%s", code, out)
	}

	// Both come back on their data dirs: the cluster heals by itself.
	p0, p1 := rs.restart(t, 0), rs.restart(t, 1)
	r0 := replicaServing(t, p0, rs.args[0][1])
	replicaServing(t, p1, rs.args[1][1])
	poll.Until(t, "r2 to be ready again", func() bool { code, _ := readyz(t, rs.cps[2]); return code == http.StatusOK })
	if out, code := apply(rs.cps[2], "third"); code != 0 {
		t.Fatalf("apply on r2 after recovery: %s", out)
	}
	got := r0.mustCtl(t, "get", "service", "-A")
	for _, name := range []string{"first", "second", "third"} {
		if !strings.Contains(got, name) {
			t.Errorf("restarted r0 does not list %s:\n%s", name, got)
		}
	}
	if strings.Contains(got, "refused") {
		t.Errorf("the apply refused without a quorum was stored:\n%s", got)
	}
}

func TestAMeshMovesFromBboltToEtcdByBackupAndRestore(t *testing.T) {
	cp := startMTLSCP(t, t.TempDir(), "127.0.0.1:0", "127.0.0.1:0", "example.org")
	cp.mustCtl(t, "apply", "-f", writeFile(t, t.TempDir(), "svc.yaml", serviceDoc("echo")))
	token := strings.TrimSpace(cp.ctlStdout(t, "token", "create", "--namespace", "default", "--service-account", "web", "--workload", "web-1", "--single-use"))
	td, fps := caRoots(t, cp)
	file := filepath.Join(t.TempDir(), "backup.db")
	cp.mustCtl(t, "backup", "-o", file)
	cp.stop()

	m := etcdtest.Start(t)
	restore := func() (int, string) {
		return exitOf(t, start(t, "embassy-cp", "restore", "--store", "etcd", "--etcd-endpoints", m.ClientURL(), "--from", file), 30*time.Second)
	}
	if code, out := restore(); code != 0 || !strings.Contains(out, "into etcd prefix /embassy/") {
		t.Fatalf("restore into etcd exited %d:\n%s", code, out)
	}
	if code, out := restore(); code == 0 || !strings.Contains(out, "pass --force") {
		t.Fatalf("a second restore without --force exited %d:\n%s", code, out)
	}

	dataDir := t.TempDir()
	p := start(t, "embassy-cp", "--data-dir", dataDir, "--xds-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0",
		"--store", "etcd", "--etcd-endpoints", m.ClientURL(), "--ca-key-encryption-key-file", etcdtest.KEKFile(t))
	mm := p.waitFor(servingRE, 30*time.Second)
	onEtcd := &controlPlane{proc: p, dataDir: dataDir, xds: mm[1], api: mm[2]}
	if gotTD, got := caRoots(t, onEtcd); gotTD != td || strings.Join(got, ",") != strings.Join(fps, ",") {
		t.Fatalf("the CA on etcd = %s %v, want the bbolt store's %s %v", gotTD, got, td, fps)
	}
	if strings.Contains(onEtcd.output(), "mesh CA created") {
		t.Errorf("embassy-cp on the restored etcd store made a new CA:\n%s", onEtcd.output())
	}
	// The CA restored in plaintext from bbolt is sealed once read.
	e := etcdtest.Open(t, store.EtcdConfig{Endpoints: []string{m.ClientURL()}})
	resp, err := e.Client().Get(context.Background(), e.Prefix(), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		if bytes.Contains(kv.Value, []byte(`"key"`)) || bytes.Contains(kv.Value, []byte("PRIVATE KEY")) {
			t.Errorf("etcd key %s holds a private key in plaintext after embassy-cp started on the restored store", kv.Key)
		}
	}
	if out := onEtcd.mustCtl(t, "get", "services", "-n", "default"); !strings.Contains(out, "echo") {
		t.Errorf("services on etcd:\n%s", out)
	}
	// The single-use token made on bbolt attests against the store on etcd.
	bundle := writeFile(t, t.TempDir(), "bundle.pem", onEtcd.mustCtl(t, "bundle"))
	dir := agentDir(t, "web-1")
	a := launchAgent(t, dir, "embassy-agent", "web-1", "--cp", onEtcd.xds, "--token-file", writeFile(t, dir, "join.token", token+"\n"), "--trust-bundle", bundle)
	if a.leafOrNil().URIs[0].String() != "spiffe://example.org/ns/default/sa/web" {
		t.Errorf("the restored token attested as %v", a.leafOrNil().URIs)
	}
}
