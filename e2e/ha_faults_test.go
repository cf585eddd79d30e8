package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"embassy.dev/embassy/internal/nettest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/client"
)

// ackedApply is one apply the API acknowledged with 200.
type ackedApply struct {
	name     string
	revision int64
	changed  bool
	at       time.Time
}

// burstWriter applies one Service per name, in order, through one
// replica's API. An apply refused with 503 (etcd electing a leader) is
// sent again until acknowledged, for at most 30 s; any other refusal
// fails the test.
type burstWriter struct {
	c       *client.Client
	acked   []ackedApply
	refused []string
}

func (w *burstWriter) run(t *testing.T, names []string, ackedSoFar func()) {
	for _, name := range names {
		deadline := time.Now().Add(30 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			res, err := w.c.Apply(ctx, []client.File{{Name: name + ".yaml", Content: serviceDoc(name)}}, false)
			cancel()
			if err == nil {
				w.acked = append(w.acked, ackedApply{name: name, revision: res.Revision, changed: res.ChangeID != "", at: time.Now()})
				ackedSoFar()
				break
			}
			var ce *client.Error
			if !errors.As(err, &ce) || ce.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("apply of %s refused with %v, want 503 while etcd elects a leader", name, err)
				return
			}
			w.refused = append(w.refused, fmt.Sprintf("%s: %s", name, ce.Message))
			if time.Now().After(deadline) {
				t.Errorf("apply of %s still refused 30s on: %s", name, ce.Message)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// TestEtcdLeaderReplicaKilledDuringABurstOfApplies kills -9 the replica
// whose embedded member leads etcd while two clients apply through the
// two other replicas: every apply acknowledged is listed afterwards by
// both survivors, an apply refused during the election succeeds when
// sent again, and each client sees its revisions increase.
func TestEtcdLeaderReplicaKilledDuringABurstOfApplies(t *testing.T) {
	rs := startReplicas(t, 3, "--insecure-xds")
	leader := -1
	poll.UntilState(t, "the etcd members to name a leader", func() (bool, string) {
		var err error
		leader, err = rs.etcdLeader(t, 0, 1, 2)
		return err == nil, fmt.Sprint(err)
	})
	var survivors []int
	for i := range rs.cps {
		if i != leader {
			survivors = append(survivors, i)
		}
	}

	const perWriter = 40
	var mu sync.Mutex
	acked, killAt := 0, make(chan struct{})
	ackedSoFar := func() {
		mu.Lock()
		defer mu.Unlock()
		if acked++; acked == 10 {
			close(killAt)
		}
	}
	writers := make([]*burstWriter, len(survivors))
	var wg sync.WaitGroup
	for k, i := range survivors {
		writers[k] = &burstWriter{c: rs.cps[i].admin(t)}
		var names []string
		for n := range perWriter {
			names = append(names, fmt.Sprintf("burst-r%d-%02d", i, n))
		}
		wg.Go(func() { writers[k].run(t, names, ackedSoFar) })
	}
	select {
	case <-killAt:
	case <-time.After(60 * time.Second):
		t.Fatal("10 applies were not acknowledged within 60s")
	}
	killed := time.Now()
	rs.kill(leader)
	wg.Wait()
	if t.Failed() {
		return
	}

	var all []ackedApply
	for k, w := range writers {
		prev := int64(0)
		for _, a := range w.acked {
			if a.revision < prev || (a.changed && a.revision == prev) {
				t.Errorf("r%d's client saw revision %d after %d (%s)", survivors[k], a.revision, prev, a.name)
			}
			prev = a.revision
		}
		all = append(all, w.acked...)
	}
	if len(all) != len(survivors)*perWriter {
		t.Fatalf("%d applies acknowledged, want %d", len(all), len(survivors)*perWriter)
	}
	maxRev := int64(0)
	for _, a := range all {
		maxRev = max(maxRev, a.revision)
	}
	for _, i := range survivors {
		items, rev, err := rs.cps[i].admin(t).List(context.Background(), "service", "")
		if err != nil {
			t.Fatalf("list on r%d: %v", i, err)
		}
		listed := map[string]bool{}
		for _, r := range items {
			listed[r.Metadata.Name] = true
		}
		for _, a := range all {
			if !listed[a.name] {
				t.Errorf("r%d does not list %s, acknowledged at revision %d", i, a.name, a.revision)
			}
		}
		if rev < maxRev {
			t.Errorf("r%d lists at revision %d, older than the acknowledged %d", i, rev, maxRev)
		}
	}
	var refused []string
	firstAfter := time.Duration(-1)
	for _, w := range writers {
		refused = append(refused, w.refused...)
		for _, a := range w.acked {
			if d := a.at.Sub(killed); d > 0 && (firstAfter < 0 || d < firstAfter) {
				firstAfter = d
			}
		}
	}
	sort.Strings(refused)
	t.Logf("figure: etcd leader r%d killed after 10 of %d applies: %d applies acknowledged, all listed by r%d and r%d; %d refusals with 503 (each sent again and acknowledged); first acknowledgement %s after the kill; last revision %d",
		leader, len(all), len(all), survivors[0], survivors[1], len(refused), firstAfter.Round(10*time.Millisecond), maxRev)
	for _, r := range refused {
		t.Logf("refused during the election: %s", r)
	}
}

// TestCompactionDuringWatchesMissesNothing applies a burst of changes
// while etcd is compacted to its current revision again and again, with
// one replica frozen (SIGSTOP, its etcd member with it) so that its
// watch falls behind the compactions, and a proxyless client connected
// to each replica: afterwards every replica lists exactly what was
// applied, and every client follows the last change.
func TestCompactionDuringWatchesMissesNothing(t *testing.T) {
	rs := startReplicas(t, 3, "--insecure-xds")
	dir := t.TempDir()
	v1, v2, spare := nettest.FreeAddr(t), nettest.FreeAddr(t), nettest.FreeAddr(t)
	start(t, "echo-server", "--addr", v1, "--name", "v1").waitFor(reListening, 10*time.Second)
	start(t, "echo-server", "--addr", v2, "--name", "v2").waitFor(reListening, 10*time.Second)
	rs.cps[0].mustCtl(t, "apply", "-f", writeFile(t, dir, "mesh.yaml", fmt.Sprintf(echoMesh, portOf(t, v1), portOf(t, v2), portOf(t, spare))))
	rs.cps[0].mustCtl(t, "apply", "-f", writeFile(t, dir, "route.yaml", fmt.Sprintf(routeSplit, 100, 0)))
	nexts := make([]func() split, len(rs.cps))
	for i, cp := range rs.cps {
		cp.waitPushed(t)
		boot := writeFile(t, dir, fmt.Sprintf("bootstrap-r%d.json", i), cp.mustCtl(t, "bootstrap", "grpc", "--workload", "echo-client.default", "--xds-address", cp.xds))
		nexts[i] = intervals(t, boot, 90*time.Second)
	}
	for i, next := range nexts {
		for n := 0; ; n++ {
			if s := next(); s.Total > 0 && s.Errors == 0 && s.ByBackend["v1"] == s.Total {
				break
			}
			if n == 100 {
				t.Fatalf("the client of r%d made no successful call to v1 within 100 intervals", i)
			}
		}
	}

	// Freeze a replica that neither leads etcd nor takes the applies.
	leader := -1
	poll.UntilState(t, "the etcd members to name a leader", func() (bool, string) {
		var err error
		leader, err = rs.etcdLeader(t, 0, 1, 2)
		return err == nil, fmt.Sprint(err)
	})
	frozen := slices.IndexFunc([]int{1, 2}, func(i int) bool { return i != leader }) + 1
	writer := 3 - frozen // the other of r1 and r2
	if err := rs.cps[frozen].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			_ = rs.cps[frozen].cmd.Process.Signal(syscall.SIGCONT)
		}
	}
	t.Cleanup(thaw)

	etcd := rs.etcdClient(t, 0, writer)
	compact := func() int64 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := etcd.Get(ctx, "compaction-probe")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := etcd.Compact(ctx, resp.Header.Revision); err != nil {
			t.Fatalf("compact to %d: %v", resp.Header.Revision, err)
		}
		return resp.Header.Revision
	}
	want := map[string]bool{"echo": true}
	admin := rs.cps[writer].admin(t)
	var compactions []int64
	for n := range 30 {
		name := fmt.Sprintf("c-%02d", n)
		files := []client.File{{Name: name + ".yaml", Content: serviceDoc(name)}}
		if n == 29 {
			files = append(files, client.File{Name: "route.yaml", Content: fmt.Sprintf(routeSplit, 0, 100)})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		_, err := admin.Apply(ctx, files, false)
		cancel()
		if err != nil {
			t.Fatalf("apply %s on r%d: %v", name, writer, err)
		}
		want[name] = true
		if n%5 == 4 {
			compactions = append(compactions, compact())
		}
	}
	thaw()

	var revs []int64
	for i, cp := range rs.cps {
		c := cp.admin(t)
		poll.UntilState(t, fmt.Sprintf("r%d to list exactly the applied Services", i), func() (bool, string) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			items, rev, err := c.List(ctx, "service", "")
			if err != nil {
				return false, err.Error()
			}
			got := map[string]bool{}
			for _, r := range items {
				got[r.Metadata.Name] = true
			}
			if len(got) != len(want) {
				return false, fmt.Sprintf("%d Services at revision %d, want %d", len(got), rev, len(want))
			}
			for name := range want {
				if !got[name] {
					return false, fmt.Sprintf("%s missing at revision %d", name, rev)
				}
			}
			revs = append(revs, rev)
			return true, ""
		})
	}
	if revs[0] != revs[1] || revs[1] != revs[2] {
		t.Errorf("the replicas list at revisions %v, want one", revs)
	}
	thawedAt := time.Now()
	for i, next := range nexts {
		var last split
		for n := 0; ; n++ {
			if last = next(); last.Total > 0 && last.Errors == 0 && last.ByBackend["v2"] == last.Total {
				break
			}
			if n == 150 {
				t.Fatalf("the client of r%d did not follow the last Route (all to v2) within 150 intervals: %+v", i, last)
			}
		}
	}
	t.Logf("figure: %d applies on r%d, etcd compacted at revisions %v while r%d was frozen; every replica lists the %d Services at store revision %d; the clients of all three replicas followed the last change %s after r%d was thawed",
		30, writer, compactions, frozen, len(want), revs[0], time.Since(thawedAt).Round(10*time.Millisecond), frozen)
}
