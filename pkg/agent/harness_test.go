package agent

import (
	"crypto"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/resource"

	"embassy.dev/embassy/internal/syncbuf"
)

// testAgent is an Agent running against a fakeCP in a temporary directory.
type testAgent struct {
	*Agent
	cp  *fakeCP
	dir string
	out *syncbuf.Buffer
	run *running

	mu   sync.Mutex
	keys []crypto.Signer // every key the agent published
}

// startAgent runs an agent and waits until it serves its sockets.
func startAgent(t *testing.T, cp *fakeCP, tweak func(*Config)) *testAgent {
	t.Helper()
	ta := &testAgent{cp: cp, dir: shortTempDir(t), out: &syncbuf.Buffer{}}
	cfg := Config{
		SocketDir:        ta.dir,
		ControlPlane:     cp,
		Token:            "emb1.test.secret",
		Workload:         "web-1.shop",
		Spec:             resource.WorkloadSpec{Address: "10.0.0.7", Services: []string{"web"}},
		RegisterInterval: 50 * time.Millisecond,
		Out:              ta.out,
		MinBackoff:       50 * time.Millisecond,
		MaxBackoff:       400 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ta.Agent = a
	a.Manager().OnUpdate(func(id *Identity) {
		if id.SVID != nil {
			ta.mu.Lock()
			ta.keys = append(ta.keys, id.SVID.PrivateKey)
			ta.mu.Unlock()
		}
	})
	ta.run = runAgent(t, a)
	select {
	case <-a.Serving():
	case err := <-ta.run.done:
		t.Fatalf("the agent stopped before serving: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not serve within 10s")
	}
	return ta
}

// stop ends the agent and waits for it; it is safe to call twice.
func (ta *testAgent) stop(t *testing.T) {
	t.Helper()
	ta.run.stop(t)
}

func (ta *testAgent) path(name string) string { return filepath.Join(ta.dir, name) }

// waitIdentity waits up to timeout for an identity that satisfies ok.
func waitIdentity(t *testing.T, m *Manager, timeout time.Duration, what string, ok func(*Identity) bool) *Identity {
	t.Helper()
	deadline := time.After(timeout)
	for {
		cur, changed := m.Watch()
		if ok(cur) {
			return cur
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no %s within %s", what, timeout)
		}
	}
}

// shortTempDir is a temporary directory whose socket paths fit the 108
// bytes a unix socket address allows.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "agent")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
