package agent

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"embassy.dev/embassy/pkg/identity/client"
	"embassy.dev/embassy/pkg/resource"

	"embassy.dev/embassy/internal/syncbuf"
)

// gate is a TCP proxy in front of the control plane that can cut it off
// like a network partition: closed, it drops every connection and closes
// new ones at once.
type gate struct {
	lis    net.Listener
	target string

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]bool
}

func newGate(t *testing.T, target string) *gate {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{lis: lis, target: target, conns: map[net.Conn]bool{}}
	go g.serve()
	t.Cleanup(func() { lis.Close(); g.setOpen(false) })
	return g
}

func (g *gate) addr() string { return g.lis.Addr().String() }

func (g *gate) serve() {
	for {
		c, err := g.lis.Accept()
		if err != nil {
			return
		}
		go g.pipe(c)
	}
}

// pipe copies between c and a new connection to the target while the
// gate is open.
func (g *gate) pipe(c net.Conn) {
	up, err := net.Dial("tcp", g.target)
	if err != nil || !g.track(c, up) {
		c.Close()
		if up != nil {
			up.Close()
		}
		return
	}
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
	g.mu.Lock()
	delete(g.conns, c)
	delete(g.conns, up)
	g.mu.Unlock()
}

func (g *gate) track(conns ...net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	for _, c := range conns {
		g.conns[c] = true
	}
	return true
}

// setOpen opens or closes the gate; closing drops every connection.
func (g *gate) setOpen(open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = !open
	if !open {
		for c := range g.conns {
			c.Close()
		}
		clear(g.conns)
	}
}

// cpAgent is an Agent for web-1.shop that dials the real identity service
// at addr and reads its join token from a file.
type cpAgent struct {
	*Agent
	out, log *syncbuf.Buffer
	run      *running

	mu      sync.Mutex
	serials []string // of every SVID published, in order
}

// startCPAgent runs an agent on dir and waits until it serves.
func startCPAgent(t *testing.T, cp *realCP, addr, dir, tokenFile string) *cpAgent {
	t.Helper()
	ca := &cpAgent{out: &syncbuf.Buffer{}, log: &syncbuf.Buffer{}}
	a, err := New(Config{
		SocketDir: dir, TokenFile: tokenFile, Workload: "web-1.shop",
		Dial: func(roots []*x509.Certificate, cert func() *tls.Certificate) (ControlPlaneConn, error) {
			return client.Dial(addr, roots, cert)
		},
		TrustBundle:      cp.ca.Bundle(),
		Spec:             resource.WorkloadSpec{Address: "10.0.0.7", Services: []string{"web"}},
		RegisterInterval: 100 * time.Millisecond,
		Out:              ca.out,
		Logger:           hclog.New(&hclog.LoggerOptions{Output: ca.log, Level: hclog.Debug}),
		MinBackoff:       50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, CallTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ca.Agent = a
	a.Manager().OnUpdate(func(id *Identity) {
		if id.SVID != nil {
			ca.mu.Lock()
			defer ca.mu.Unlock()
			if s := serialOfSVID(id); len(ca.serials) == 0 || ca.serials[len(ca.serials)-1] != s {
				ca.serials = append(ca.serials, s)
			}
		}
	})
	ca.run = runAgent(t, a)
	select {
	case <-a.Serving():
	case err := <-ca.run.done:
		t.Fatalf("the agent stopped before serving: %v\n%s", err, ca.out)
	case <-time.After(10 * time.Second):
		t.Fatalf("the agent did not serve within 10s:\n%s", ca.out)
	}
	return ca
}

// stop ends the agent and waits for it; it is safe to call twice.
func (ca *cpAgent) stop(t *testing.T) {
	t.Helper()
	ca.run.stop(t)
}

// published returns the serials of the SVIDs published so far.
func (ca *cpAgent) published() []string {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return append([]string(nil), ca.serials...)
}

func serialOfSVID(id *Identity) string { return fmt.Sprintf("%x", leafOf(id).SerialNumber) }

// writeToken writes a join token to the file the agent reads.
func writeToken(t *testing.T, path, token string) {
	t.Helper()
	if err := WriteFileAtomic(path, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// createToken makes a join token of the real control plane for shop/sa,
// restricted to the workload web-1.
func createToken(t *testing.T, cp *realCP, sa string, singleUse bool) string {
	t.Helper()
	token, _, err := cp.tokens.Create("shop", sa, "web-1", time.Hour, singleUse)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// tokenUses returns how often the token with this secret was redeemed.
func tokenUses(t *testing.T, cp *realCP, token string) int {
	t.Helper()
	id := strings.Split(token, ".")[1]
	for _, info := range cp.tokens.List() {
		if info.ID == id {
			return info.Uses
		}
	}
	t.Fatalf("no token %s", id)
	return 0
}

// waitText waits up to timeout until the text of b satisfies ok.
func waitText(t *testing.T, b *syncbuf.Buffer, timeout time.Duration, what string, ok func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok(b.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s:\n%s", what, timeout, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tokenDir is a directory for token files, next to the socket directory.
func tokenDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(shortTempDir(t), "token")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}
