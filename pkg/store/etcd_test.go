package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"embassy.dev/embassy/internal/etcdtest"
	"embassy.dev/embassy/internal/nettest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
)

func TestEtcd(t *testing.T) {
	m := etcdtest.Start(t)
	runConformance(t, func(t *testing.T) store.Store {
		return etcdtest.Open(t, etcdtest.Config(m.ClientURL()))
	})
}

func TestEtcdKindAndID(t *testing.T) {
	m := etcdtest.Start(t)
	cfg := etcdtest.Config(m.ClientURL())
	a, b := etcdtest.Open(t, cfg), etcdtest.Open(t, cfg)
	if a.Kind() != "etcd" {
		t.Errorf("Kind = %q, want etcd", a.Kind())
	}
	if a.StoreID() == "" || a.StoreID() != b.StoreID() {
		t.Errorf("store ids %q and %q: want one id shared by every store on the prefix", a.StoreID(), b.StoreID())
	}
	if other := etcdtest.Open(t, etcdtest.Config(m.ClientURL())); other.StoreID() == a.StoreID() {
		t.Error("another prefix has the same store id")
	}
}

func TestEtcdOpenWithoutEtcdSaysWhatToCheck(t *testing.T) {
	url := "http://" + nettest.FreeAddr(t)
	_, err := store.OpenEtcd(context.Background(), store.EtcdConfig{Endpoints: []string{url}, RequestTimeout: 500 * time.Millisecond})
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), "--etcd-endpoints") {
		t.Fatalf("OpenEtcd with no etcd = %v, want ErrUnavailable naming %s and the flags to check", err, url)
	}
}

func TestEtcdRefusesBadPrefix(t *testing.T) {
	for _, p := range []string{"embassy", "/embassy", "embassy/", "//x/"} {
		_, err := store.OpenEtcd(context.Background(), store.EtcdConfig{Endpoints: []string{"http://127.0.0.1:1"}, Prefix: p})
		if err == nil || !strings.Contains(err.Error(), "--etcd-prefix") {
			t.Errorf("prefix %q: error = %v, want one naming --etcd-prefix", p, err)
		}
	}
}

// services makes n Services whose JSON is about pad bytes each.
func services(n, pad int) []store.Op {
	ops := make([]store.Op, n)
	for i := range ops {
		r := service("default", fmt.Sprintf("s%05d", i), 80)
		r.Metadata.Labels = map[string]string{"pad": strings.Repeat("x", pad)}
		ops[i] = put(r)
	}
	return ops
}

func TestEtcdCommitLargerThanEtcdLimits(t *testing.T) {
	m := etcdtest.Start(t)
	s := etcdtest.Open(t, etcdtest.Config(m.ClientURL()))
	ctx := context.Background()
	// 1,000 resources of ~2 KiB: 8 times etcd's 128 operations and about
	// 1.3 times its 1.5 MiB request limit, so no single transaction could
	// hold them.
	ops := services(1000, 2000)
	start := time.Now()
	rev, err := s.Commit(ctx, ops)
	if err != nil || rev != 1 {
		t.Fatalf("Commit of 1000 resources = %d, %v; want revision 1", rev, err)
	}
	t.Logf("a commit of 1000 resources (2 MiB) took %v", time.Since(start).Round(time.Millisecond))
	list, listRev, err := s.List(ctx, "")
	if err != nil || len(list) != 1000 || listRev != 1 {
		t.Fatalf("List = %d resources at %d, %v; want 1000 at 1", len(list), listRev, err)
	}
	// Deleting them all is as large, and as atomic.
	dels := make([]store.Op, len(ops))
	for i, op := range ops {
		dels[i] = store.Op{Key: op.Key}
	}
	if rev, err := s.Commit(ctx, dels); err != nil || rev != 2 {
		t.Fatalf("delete of 1000 resources = %d, %v; want revision 2", rev, err)
	}
	if list, _, _ := s.List(ctx, ""); len(list) != 0 {
		t.Errorf("List after deleting everything = %d resources", len(list))
	}
	expectNoLeftovers(t, m, s)
}

// expectNoLeftovers fails if a finished large commit left its intent or
// chunks in etcd.
func expectNoLeftovers(t *testing.T, m *store.Member, s *store.Etcd) {
	t.Helper()
	resp, err := s.Client().Get(context.Background(), s.Prefix(), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		k := strings.TrimPrefix(string(kv.Key), s.Prefix())
		if k == "intent" || strings.HasPrefix(k, "pending/") {
			t.Errorf("etcd still holds %s after the commit finished", kv.Key)
		}
	}
}

func TestEtcdLargeCommitIsAtomicToReaders(t *testing.T) {
	m := etcdtest.Start(t)
	cfg := etcdtest.Config(m.ClientURL())
	// Tiny limits make a 300-resource commit take dozens of requests,
	// leaving readers every chance to see a part of it.
	cfg.MaxTxnOps, cfg.MaxRequestBytes = 8, 16*1024
	w, r := etcdtest.Open(t, cfg), etcdtest.Open(t, cfg)
	ctx := context.Background()
	const n = 300
	done := make(chan struct{})
	var counts []int
	var readErr error
	go func() {
		defer close(done)
		for range 100000 {
			list, _, err := r.List(ctx, resource.KindService)
			if err != nil {
				readErr = err
				return
			}
			counts = append(counts, len(list))
			if len(list) == n {
				return
			}
		}
	}()
	if _, err := w.Commit(ctx, services(n, 200)); err != nil {
		t.Fatal(err)
	}
	<-done
	if readErr != nil {
		t.Fatal(readErr)
	}
	for _, c := range counts {
		if c != 0 && c != n {
			t.Fatalf("a reader saw %d of the commit's %d resources (all counts seen: %v)", c, n, counts)
		}
	}
	expectNoLeftovers(t, m, w)
}

func TestEtcdRefusesResourceTooLargeForEtcd(t *testing.T) {
	m := etcdtest.Start(t)
	cfg := etcdtest.Config(m.ClientURL())
	cfg.MaxRequestBytes = 16 * 1024
	s := etcdtest.Open(t, cfg)
	ops := append(services(3, 10), services(1, 20000)[0])
	ops[3].Resource.Metadata.Name = "huge"
	ops[3].Key = ops[3].Resource.Key()
	_, err := s.Commit(context.Background(), ops)
	if err == nil || !strings.Contains(err.Error(), "Service/default/huge") || !strings.Contains(err.Error(), "--max-request-bytes") {
		t.Fatalf("Commit error = %v, want one naming the resource and the limit", err)
	}
	if list, _, _ := s.List(context.Background(), ""); len(list) != 0 || s.Revision() != 0 {
		t.Errorf("a refused commit stored %d resources, revision %d", len(list), s.Revision())
	}
}

func TestEtcdStoresShareRevisionsAndWatches(t *testing.T) {
	m := etcdtest.Start(t)
	cfg := etcdtest.Config(m.ClientURL())
	a, b := etcdtest.Open(t, cfg), etcdtest.Open(t, cfg)
	ctx := context.Background()
	wb := b.Watch(ctx)
	mustCommit(t, a, put(service("default", "a", 80)))
	if got := receive(t, wb); got != 1 {
		t.Fatalf("b's watcher got %d after a's commit, want 1", got)
	}
	if r, err := b.Get(ctx, service("default", "a", 80).Key()); err != nil || r.Metadata.Name != "a" {
		t.Fatalf("b.Get = %v, %v", r, err)
	}
	// Writers on both stores at once: every commit lands, each once.
	const each = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for i, s := range []*store.Etcd{a, b} {
		wg.Go(func() {
			for j := range each {
				if _, err := s.Commit(ctx, []store.Op{put(service("default", fmt.Sprintf("c%d-%d", i, j), 80))}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	want := int64(1 + 2*each)
	for name, s := range map[string]*store.Etcd{"a": a, "b": b} {
		list, rev, err := s.List(ctx, "")
		if err != nil || len(list) != 1+2*each || rev != want {
			t.Errorf("%s: List = %d resources at revision %d, %v; want %d at %d", name, len(list), rev, err, 1+2*each, want)
		}
	}
	poll.Until(t, "b's watcher to reach the last revision", func() bool {
		select {
		case rev := <-wb:
			return rev == want
		default:
			return false
		}
	})
}

// twoStoresOneCuttable opens two stores on one etcd member: a directly,
// b through a proxy the test can cut, with a 1s request timeout.
func twoStoresOneCuttable(t *testing.T) (a, b *store.Etcd, p *etcdtest.Proxy) {
	t.Helper()
	m := etcdtest.Start(t)
	cfg := etcdtest.Config(m.ClientURL())
	a = etcdtest.Open(t, cfg)
	p = etcdtest.NewProxy(t, strings.TrimPrefix(m.ClientURL(), "http://"))
	bcfg := cfg
	bcfg.Endpoints, bcfg.RequestTimeout = []string{p.URL()}, time.Second
	return a, etcdtest.Open(t, bcfg), p
}

func TestEtcdWatchSurvivesCompaction(t *testing.T) {
	a, b, p := twoStoresOneCuttable(t)
	ctx := context.Background()
	wb := b.Watch(ctx)
	mustCommit(t, a, put(service("default", "before", 80)))
	if got := receive(t, wb); got != 1 {
		t.Fatalf("b's watcher got %d, want 1", got)
	}
	// b is cut off while a commits, then etcd compacts away the history b's
	// watch would resume from.
	p.Cut()
	for i := range 5 {
		mustCommit(t, a, put(service("default", fmt.Sprintf("during-%d", i), 80)))
	}
	resp, err := a.Client().Get(ctx, "compact-point")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Client().Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	p.Heal()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case rev, ok := <-wb:
			if !ok {
				t.Fatal("b's watch closed")
			}
			if rev < 6 {
				continue
			}
			list, listRev, err := b.List(ctx, "")
			if err != nil || len(list) != 6 || listRev != 6 {
				t.Fatalf("b.List after relist = %d resources at %d, %v; want 6 at 6", len(list), listRev, err)
			}
			return
		case <-deadline:
			t.Fatalf("b's watcher never heard of revision 6 after the compaction (at %d)", b.Revision())
		}
	}
}

func TestEtcdUnavailable(t *testing.T) {
	a, b, p := twoStoresOneCuttable(t)
	ctx := context.Background()
	wb := b.Watch(ctx)
	p.Cut()
	svc := service("default", "cut", 80)
	if _, err := b.Commit(ctx, []store.Op{put(svc)}); !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), p.URL()) {
		t.Fatalf("Commit while cut off = %v, want ErrUnavailable naming the endpoint", err)
	}
	if err := b.Ready(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Ready while cut off = %v, want ErrUnavailable", err)
	}
	// A caller's deadline shorter than the store's own (a /readyz probe)
	// still learns why, not just that time ran out.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := b.Ready(short); !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "etcd store") {
		t.Fatalf("Ready with a short deadline while cut off = %v, want ErrUnavailable naming the etcd store", err)
	}
	if _, _, err := b.List(ctx, ""); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("List while cut off = %v, want ErrUnavailable", err)
	}
	if _, err := a.Get(ctx, svc.Key()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused commit reached etcd: Get = %v", err)
	}
	mustCommit(t, a, put(service("default", "meanwhile", 80)))
	p.Heal()
	poll.Until(t, "b to be ready again", func() bool { return b.Ready(ctx) == nil })
	if got := receive(t, wb); got != 1 {
		t.Fatalf("b's watcher got %d after healing, want a's revision 1", got)
	}
	if rev := mustCommit(t, b, put(svc)); rev != 2 {
		t.Fatalf("b's commit after healing = revision %d, want 2", rev)
	}
}

func TestEtcdResendsTheRevisionAfterAnOutage(t *testing.T) {
	m := etcdtest.Start(t)
	p := etcdtest.NewProxy(t, strings.TrimPrefix(m.ClientURL(), "http://"))
	cfg := etcdtest.Config(p.URL())
	cfg.RequestTimeout = time.Second
	s := etcdtest.Open(t, cfg)
	ctx := context.Background()
	w := s.Watch(ctx)
	mustCommit(t, s, put(service("default", "a", 80)))
	if got := receive(t, w); got != 1 {
		t.Fatalf("watch got %d, want 1", got)
	}
	// A reader heard of revision 1, then its read failed: etcd went away.
	p.Cut()
	if _, _, err := s.List(ctx, ""); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("List while cut off = %v, want ErrUnavailable", err)
	}
	p.Heal()
	// Nothing was committed since, yet the reader must learn that it can
	// read revision 1 now.
	if got := receive(t, w); got != 1 {
		t.Fatalf("watch got %d after the outage, want revision 1 again", got)
	}
}
