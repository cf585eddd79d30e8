// Package etcdtest runs real etcd members for tests: one in the test's
// own process (etcd's embed package, the code embassy-cp runs with
// --etcd-embedded), or a cluster of members in child processes that a
// test can kill. Everything listens on 127.0.0.1 with ports picked per
// run, and keeps its data under the test's temp dir.
package etcdtest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"embassy.dev/embassy/internal/nettest"
	"embassy.dev/embassy/pkg/store"
)

// startWithin bounds the start of a member, a liveness limit only.
const startWithin = 30 * time.Second

// Start runs a one-member etcd cluster in this process, stopped when the
// test ends.
func Start(t testing.TB) *store.Member {
	t.Helper()
	return startMember(t, store.EmbedConfig{
		Name:      "m0",
		Dir:       t.TempDir(),
		Peers:     []store.Peer{{Name: "m0", URL: "http://" + nettest.FreeAddr(t)}},
		ClientURL: "http://127.0.0.1:0",
		LogLevel:  "fatal",
	})
}

// startMember starts a member with cfg, stopped when the test ends.
func startMember(t testing.TB, cfg store.EmbedConfig) *store.Member {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startWithin)
	defer cancel()
	m, err := store.StartMember(ctx, cfg)
	if err != nil {
		t.Fatalf("start an etcd member: %v", err)
	}
	t.Cleanup(m.Close)
	return m
}

// Single is a one-member etcd cluster in this process that a test can
// stop and start again, on the same dir and ports: etcd entirely down,
// then back.
type Single struct {
	t   testing.TB
	cfg store.EmbedConfig
	m   *store.Member
}

// StartSingle starts a Single.
func StartSingle(t testing.TB) *Single {
	t.Helper()
	s := &Single{t: t, cfg: store.EmbedConfig{
		Name:      "m0",
		Dir:       t.TempDir(),
		Peers:     []store.Peer{{Name: "m0", URL: "http://" + nettest.FreeAddr(t)}},
		ClientURL: "http://" + nettest.FreeAddr(t),
		LogLevel:  "fatal",
	}}
	s.Start()
	return s
}

// ClientURL is where the member serves clients, across restarts.
func (s *Single) ClientURL() string { return s.cfg.ClientURL }

// Stop stops the member.
func (s *Single) Stop() { s.m.Close() }

// Start starts the member (again).
func (s *Single) Start() {
	s.t.Helper()
	s.m = startMember(s.t, s.cfg)
}

// prefixes makes every store a test opens on a shared member its own.
var prefixes atomic.Int64

// Config is a store configuration for endpoints under a prefix no other
// store of this test binary uses.
func Config(endpoints ...string) store.EtcdConfig {
	return store.EtcdConfig{
		Endpoints: endpoints,
		Prefix:    fmt.Sprintf("/test-%d/", prefixes.Add(1)),
	}
}

// Open opens a store with cfg, closed when the test ends.
func Open(t testing.TB, cfg store.EtcdConfig) *store.Etcd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startWithin)
	defer cancel()
	s, err := store.OpenEtcd(ctx, cfg)
	if err != nil {
		t.Fatalf("open the etcd store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
