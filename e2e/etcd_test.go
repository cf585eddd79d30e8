package e2e

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/internal/nettest"
	"embassy.dev/embassy/internal/poll"
)

// replicaSet is embassy-cp replicas that each run a member of one etcd
// cluster (--etcd-embedded).
type replicaSet struct {
	args [][]string
	cps  []*controlPlane
}

// startReplicas starts n replicas at once (a member waits for a majority
// of its peers) and returns once each serves.
func startReplicas(t *testing.T, n int) *replicaSet {
	t.Helper()
	peers := make([]string, n)
	for i := range peers {
		peers[i] = fmt.Sprintf("r%d=http://%s", i, nettest.FreeAddr(t))
	}
	rs := &replicaSet{}
	root := t.TempDir()
	for i := range n {
		rs.args = append(rs.args, []string{"--data-dir", filepath.Join(root, fmt.Sprintf("r%d", i)),
			"--xds-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--insecure-xds", "--trust-domain", "example.org",
			"--etcd-embedded", "--etcd-name", fmt.Sprintf("r%d", i), "--etcd-peers", strings.Join(peers, ","),
			"--etcd-client-url", "http://" + nettest.FreeAddr(t), "--etcd-timeout", "2s"})
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
	rs := startReplicas(t, 3)
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

	// One replica (and its etcd member) dies: the others go on.
	rs.kill(0)
	if out, code := apply(rs.cps[1], "second"); code != 0 {
		t.Fatalf("apply on r1 with r0 dead: %s", out)
	}
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
