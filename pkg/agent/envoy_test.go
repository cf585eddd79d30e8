package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/bootstrap"
)

func TestWriteEnvoyBootstrapReplacesAtomically(t *testing.T) {
	path := filepath.Join(t.TempDir(), "envoy.yaml")
	if err := WriteEnvoyBootstrap(path, bootstrap.EnvoyOptions{NodeID: "web-1.shop", XDSAddress: "127.0.0.1:15010", TrustDomain: "example.org"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "web-1.shop") {
		t.Fatalf("bootstrap does not name the node:\n%s", b)
	}
	if err := WriteEnvoyBootstrap(path, bootstrap.EnvoyOptions{NodeID: "not a node id"}); err == nil {
		t.Fatal("a bad node id was accepted")
	}
	if b2, _ := os.ReadFile(path); string(b2) != string(b) {
		t.Fatal("a refused bootstrap changed the file")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

// A stand-in for envoy that records each start and exits at once shows the
// supervisor restarting it, with backoff, until the context ends.
func TestSupervisorRestartsEnvoy(t *testing.T) {
	dir := t.TempDir()
	starts := filepath.Join(dir, "starts")
	fake := filepath.Join(dir, "envoy")
	script := "#!/bin/sh\necho \"$@\" >> " + starts + "\nexit 1\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Supervisor{Bin: fake, Bootstrap: "/etc/envoy.yaml", MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond}
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	var b []byte
	poll.UntilState(t, "envoy to be restarted 3 times", func() (bool, string) {
		b, _ = os.ReadFile(starts)
		return strings.Count(string(b), "\n") >= 3, fmt.Sprintf("starts %q", b)
	})
	if !strings.Contains(string(b), "-c /etc/envoy.yaml") {
		t.Fatalf("envoy was not given the bootstrap: %q", b)
	}
	cancel()
	poll.Returned(t, "the supervisor, its context cancelled,", errc)
}
