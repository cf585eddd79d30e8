package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/internal/etcdtest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/store"
)

func TestEmbeddedMembersInThreeProcessesFormOneCluster(t *testing.T) {
	c := etcdtest.StartCluster(t, 3)
	prefix := etcdtest.Config().Prefix
	open := func(i int) *store.Etcd {
		return etcdtest.Open(t, store.EtcdConfig{Endpoints: []string{c.Members[i].ClientURL}, Prefix: prefix})
	}
	a, b := open(0), open(2)
	w := b.Watch(context.Background())
	svc := service("default", "a", 80)
	mustCommit(t, a, put(svc))
	if got := receive(t, w); got != 1 {
		t.Fatalf("the store on member 2 heard of revision %d, want 1", got)
	}
	if _, err := b.Get(context.Background(), svc.Key()); err != nil {
		t.Fatalf("a commit through member 0 is not read through member 2: %v", err)
	}
}

// ack is one acknowledged commit of a burst.
type ack struct {
	names []string
	rev   int64
	at    time.Time
}

// burstOps is commit i of a burst: one Service, or every tenth time 150,
// more than one etcd transaction may hold.
func burstOps(i int) ([]store.Op, []string) {
	n := 1
	if i%10 == 5 {
		n = 150
	}
	var ops []store.Op
	var names []string
	for j := range n {
		name := fmt.Sprintf("burst-%04d-%03d", i, j)
		ops = append(ops, put(service("default", name, 80)))
		names = append(names, name)
	}
	return ops, names
}

func TestEtcdLeaderKilledDuringABurstOfCommits(t *testing.T) {
	c := etcdtest.StartCluster(t, 3)
	cfg := etcdtest.Config(c.Endpoints()...)
	cfg.RequestTimeout = 2 * time.Second
	s := etcdtest.Open(t, cfg)
	ctx := context.Background()

	var acks []ack
	var failed [][]string
	commit := func(i int) {
		ops, names := burstOps(i)
		rev, err := s.Commit(ctx, ops)
		if err != nil {
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("commit %d failed with %v, want an error wrapping ErrUnavailable", i, err)
			}
			failed = append(failed, names)
			return
		}
		acks = append(acks, ack{names, rev, time.Now()})
	}
	i := 0
	for ; len(acks) < 50 && i < 500; i++ {
		commit(i)
	}
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	c.Members[leader].Kill()
	before := len(acks)
	// Bounded in count and time: the burst goes on until 50 commits land
	// after the kill.
	deadline := killed.Add(60 * time.Second)
	for ; len(acks) < before+50 && i < 5000 && time.Now().Before(deadline); i++ {
		commit(i)
	}
	if len(acks) < before+50 {
		t.Fatalf("only %d commits landed in the 60 s after the leader was killed (%d failed)", len(acks)-before, len(failed))
	}
	t.Logf("killed leader m%d; first commit after it landed %v later; %d commits failed meanwhile with ErrUnavailable",
		leader, acks[before].at.Sub(killed).Round(time.Millisecond), len(failed))

	for j := 1; j < len(acks); j++ {
		if acks[j].rev <= acks[j-1].rev {
			t.Fatalf("revision went from %d (%s) to %d (%s)", acks[j-1].rev, acks[j-1].names[0], acks[j].rev, acks[j].names[0])
		}
	}
	// Read through a fresh store on the surviving members: every
	// acknowledged commit is there.
	var live []string
	for j, m := range c.Members {
		if j != leader {
			live = append(live, m.ClientURL)
		}
	}
	rcfg := cfg
	rcfg.Endpoints = live
	r := etcdtest.Open(t, rcfg)
	list, rev, err := r.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, res := range list {
		have[res.Metadata.Name] = true
	}
	for _, a := range acks {
		if n := count(have, a.names); n != len(a.names) {
			t.Errorf("acknowledged commit of revision %d (%s...) is lost: %d of its %d resources are stored", a.rev, a.names[0], n, len(a.names))
		}
	}
	// A commit that failed (etcd lost mid-request) happened wholly or not
	// at all.
	for _, names := range failed {
		if n := count(have, names); n != 0 && n != len(names) {
			t.Errorf("a failed commit (%s...) is stored in part: %d of %d resources", names[0], n, len(names))
		}
	}
	if last := acks[len(acks)-1].rev; rev < last {
		t.Errorf("the store reads revision %d, below the last acknowledged %d", rev, last)
	}
}

// count is how many of names are in have.
func count(have map[string]bool, names []string) int {
	n := 0
	for _, name := range names {
		if have[name] {
			n++
		}
	}
	return n
}

func TestEtcdEntirelyDownThenBack(t *testing.T) {
	e := etcdtest.StartSingle(t)
	cfg := etcdtest.Config(e.ClientURL())
	cfg.RequestTimeout = time.Second
	s := etcdtest.Open(t, cfg)
	ctx := context.Background()
	w := s.Watch(ctx)
	mustCommit(t, s, put(service("default", "before", 80)))
	if got := receive(t, w); got != 1 {
		t.Fatalf("watch got %d, want 1", got)
	}

	e.Stop()
	start := time.Now()
	_, err := s.Commit(ctx, []store.Op{put(service("default", "during", 80))})
	refusedIn := time.Since(start)
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), e.ClientURL()) {
		t.Fatalf("Commit with etcd down = %v, want ErrUnavailable naming %s", err, e.ClientURL())
	}
	if err := s.Ready(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Ready with etcd down = %v, want ErrUnavailable", err)
	}
	if _, err := s.Get(ctx, service("default", "before", 80).Key()); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Get with etcd down = %v, want ErrUnavailable", err)
	}

	e.Start()
	back := time.Now()
	poll.Until(t, "the store to be ready again", func() bool { return s.Ready(ctx) == nil })
	readyIn := time.Since(back)
	if rev := mustCommit(t, s, put(service("default", "after", 80))); rev != 2 {
		t.Fatalf("commit after etcd is back = revision %d, want 2: the refused commit must not have counted", rev)
	}
	if got := receive(t, w); got != 2 {
		t.Fatalf("watch got %d after etcd came back, want 2", got)
	}
	t.Logf("etcd down: a commit was refused in %v; etcd back: the store was ready %v after etcd started", refusedIn.Round(time.Millisecond), readyIn.Round(time.Millisecond))
}
