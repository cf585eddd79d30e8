package etcdtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"embassy.dev/embassy/internal/nettest"
	"embassy.dev/embassy/pkg/store"
)

// Cluster is an etcd cluster of member processes (cmd/etcdmember).
type Cluster struct {
	t       testing.TB
	Members []*Process
}

// Process is one member process.
type Process struct {
	Name      string
	ClientURL string
	cmd       *exec.Cmd
	waited    chan struct{}
}

// buildMember builds cmd/etcdmember into the test's temp dir (go's build
// cache makes every build after the first a link).
func buildMember(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "etcdmember")
	out, err := exec.Command("go", "build", "-o", path, "embassy.dev/embassy/internal/etcdtest/cmd/etcdmember").CombinedOutput()
	if err != nil {
		t.Fatalf("build etcdmember: %v\n%s", err, out)
	}
	return path
}

// StartCluster starts n member processes that form one cluster, and
// returns once each has a leader. They are killed when the test ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	bin := buildMember(t)
	peers := make([]store.Peer, n)
	for i := range peers {
		peers[i] = store.Peer{Name: fmt.Sprintf("m%d", i), URL: "http://" + nettest.FreeAddr(t)}
	}
	list := make([]string, n)
	for i, p := range peers {
		list[i] = p.Name + "=" + p.URL
	}
	c := &Cluster{t: t}
	ready := make(chan error, n)
	for _, p := range peers {
		proc := &Process{Name: p.Name, waited: make(chan struct{})}
		proc.cmd = exec.Command(bin, "-name", p.Name, "-dir", filepath.Join(t.TempDir(), p.Name),
			"-peers", strings.Join(list, ","), "-client-url", "http://"+nettest.FreeAddr(t))
		proc.cmd.Stderr = os.Stderr
		out, err := proc.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := proc.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = proc.cmd.Wait(); close(proc.waited) }()
		t.Cleanup(proc.Kill)
		c.Members = append(c.Members, proc)
		go proc.awaitReady(out, ready)
	}
	deadline := time.After(2 * startWithin)
	for range n {
		select {
		case err := <-ready:
			if err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatalf("the %d etcd members did not form a cluster within %v", n, 2*startWithin)
		}
	}
	return c
}

// awaitReady reads the member's "ready URL" line.
func (p *Process) awaitReady(out io.Reader, ready chan<- error) {
	sc := bufio.NewScanner(out)
	if sc.Scan() {
		if url, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
			p.ClientURL = url
			ready <- nil
			return
		}
	}
	ready <- fmt.Errorf("etcd member %s exited before it was ready", p.Name)
}

// Endpoints are every member's client URL.
func (c *Cluster) Endpoints() []string {
	out := make([]string, len(c.Members))
	for i, m := range c.Members {
		out[i] = m.ClientURL
	}
	return out
}

// Kill stops the member with SIGKILL and waits for it to exit.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.waited
}

// Leader returns the index of the member that leads, asking each live
// member in turn.
func (c *Cluster) Leader(ctx context.Context) (int, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), Logger: zap.NewNop(), DialTimeout: startWithin})
	if err != nil {
		return -1, err
	}
	defer cli.Close()
	for _, m := range c.Members {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := cli.Status(sctx, m.ClientURL)
		cancel()
		if err != nil {
			continue
		}
		resp, err := cli.MemberList(ctx)
		if err != nil {
			return -1, err
		}
		for _, mm := range resp.Members {
			if mm.ID == st.Leader {
				for i, p := range c.Members {
					if p.Name == mm.Name {
						return i, nil
					}
				}
			}
		}
	}
	return -1, fmt.Errorf("no live member names a leader")
}
