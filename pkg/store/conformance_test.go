package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
)

// opener returns a new, empty store that is closed when the test ends.
type opener func(t *testing.T) store.Store

// runConformance checks the Store contract against one implementation.
func runConformance(t *testing.T, open opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, opener)
	}{
		{"CommitGet", testCommitGet},
		{"GetReturnsCopies", testGetReturnsCopies},
		{"ListSortedAndFiltered", testListSortedAndFiltered},
		{"RevisionCountsChangingCommits", testRevisionCountsChangingCommits},
		{"InvalidOpsChangeNothing", testInvalidOpsChangeNothing},
		{"Delete", testDelete},
		{"DeleteMissing", testDeleteMissing},
		{"WatchNotifies", testWatchNotifies},
		{"WatchCoalesces", testWatchCoalesces},
		{"WatchManyWatchers", testWatchManyWatchers},
		{"WatchClosesOnCancel", testWatchClosesOnCancel},
		{"WatchClosesOnClose", testWatchClosesOnClose},
		{"ConcurrentCommits", testConcurrentCommits},
		{"ClosedStore", testClosedStore},
		{"Secrets", testSecrets},
		{"SwapSecret", testSwapSecret},
		{"SwapSecretConcurrent", testSwapSecretConcurrent},
		{"ReadyUntilClosed", testReadyUntilClosed},
		{"ListSharedDecodesOnlyChanges", testListSharedDecodesOnlyChanges},
		{"ListSharedRandom", testListSharedRandom},
		{"ListSharedConcurrent", testListSharedConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

func testCommitGet(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	if got := s.Revision(); got != 0 {
		t.Fatalf("new store revision = %d, want 0", got)
	}
	svc, m := service("default", "a", 80), mesh("example.org")
	if rev := mustCommit(t, s, put(svc), put(m)); rev != 1 {
		t.Fatalf("Commit revision = %d, want 1", rev)
	}
	for _, want := range []*resource.Resource{svc, m} {
		got, err := s.Get(ctx, want.Key())
		if err != nil {
			t.Fatalf("Get(%s): %v", want.Key(), err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Get(%s) = %+v, want %+v", want.Key(), got, want)
		}
	}
	missing := service("default", "nope", 80).Key()
	if _, err := s.Get(ctx, missing); !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), missing.String()) {
		t.Errorf("Get(missing) error = %v, want ErrNotFound naming %s", err, missing)
	}
}

func testGetReturnsCopies(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	svc := service("default", "a", 80)
	mustCommit(t, s, put(svc))
	// The caller's own value must not alias the store either.
	svc.Spec.(*resource.ServiceSpec).Ports[0].Port = 1
	got, err := s.Get(ctx, svc.Key())
	if err != nil {
		t.Fatal(err)
	}
	got.Spec.(*resource.ServiceSpec).Ports[0].Port = 2
	got.Metadata.Labels = map[string]string{"mutated": "yes"}
	list, _, err := s.List(ctx, resource.KindService)
	if err != nil {
		t.Fatal(err)
	}
	list[0].Spec.(*resource.ServiceSpec).Ports[0].Port = 3
	again, err := s.Get(ctx, svc.Key())
	if err != nil {
		t.Fatal(err)
	}
	if p := again.Spec.(*resource.ServiceSpec).Ports[0].Port; p != 80 || again.Metadata.Labels != nil {
		t.Errorf("stored resource changed through a returned value: port %d, labels %v", p, again.Metadata.Labels)
	}
}

func testListSortedAndFiltered(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	// "a-b" sorts before "a" as text of Key.String() ('-' < '/'), but after
	// it by namespace: List must order by kind, namespace, name.
	mustCommit(t, s,
		put(workload("default", "w1", "b")),
		put(service("default", "b", 80)),
		put(service("a-b", "x", 80)),
		put(service("a", "x", 80)),
		put(mesh("example.org")),
		put(service("default", "a", 80)),
	)
	all, rev, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	wantAll := []string{"Mesh/default", "Service/a/x", "Service/a-b/x", "Service/default/a", "Service/default/b", "Workload/default/w1"}
	if got := keys(all); !slices.Equal(got, wantAll) || rev != 1 {
		t.Errorf("List(all) = %v at %d, want %v at 1", got, rev, wantAll)
	}
	svcs, _, err := s.List(ctx, resource.KindService)
	if err != nil {
		t.Fatal(err)
	}
	wantSvcs := []string{"Service/a/x", "Service/a-b/x", "Service/default/a", "Service/default/b"}
	if got := keys(svcs); !slices.Equal(got, wantSvcs) {
		t.Errorf("List(Service) = %v, want %v", got, wantSvcs)
	}
	routes, _, err := s.List(ctx, resource.KindRoute)
	if err != nil || routes == nil || len(routes) != 0 {
		t.Errorf("List(Route) = %v, %v; want an empty, non-nil list", routes, err)
	}
}

func testRevisionCountsChangingCommits(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	w := s.Watch(ctx)
	a := service("default", "a", 80)
	steps := []struct {
		what string
		ops  []store.Op
		want int64
		// changes says whether the commit changes the store, and so
		// whether watchers hear of it.
		changes bool
	}{
		{"first put", []store.Op{put(a)}, 1, true},
		{"same put again", []store.Op{put(service("default", "a", 80))}, 1, false},
		{"no ops", nil, 1, false},
		{"changed put", []store.Op{put(service("default", "a", 81))}, 2, true},
		{"put and delete of a new key", []store.Op{put(service("default", "tmp", 80)), del(service("default", "tmp", 80))}, 2, false},
		{"new key plus unchanged key", []store.Op{put(service("default", "a", 81)), put(service("default", "b", 80))}, 3, true},
		{"delete", []store.Op{del(a)}, 4, true},
	}
	for _, st := range steps {
		rev, err := s.Commit(ctx, st.ops)
		if err != nil {
			t.Fatalf("%s: %v", st.what, err)
		}
		if rev != st.want || s.Revision() != st.want {
			t.Fatalf("%s: Commit = %d, Revision = %d, want %d", st.what, rev, s.Revision(), st.want)
		}
		_, listRev, err := s.List(ctx, "")
		if err != nil || listRev != st.want {
			t.Fatalf("%s: List revision = %d (%v), want %d", st.what, listRev, err, st.want)
		}
		if st.changes {
			if got := receive(t, w); got != st.want {
				t.Fatalf("%s: watch got %d, want %d", st.what, got, st.want)
			}
		}
		expectEmpty(t, w)
	}
}

func testInvalidOpsChangeNothing(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	base := service("default", "base", 80)
	mustCommit(t, s, put(base))
	w := s.Watch(ctx)
	good := service("default", "good", 80)
	wrongSpec := service("default", "ws", 80)
	wrongSpec.Spec = &resource.MeshSpec{TrustDomain: "x"}
	unknown := service("default", "u", 80)
	unknown.Kind = "Gateway"
	cases := []struct {
		name string
		bad  store.Op
		want string
	}{
		{"key mismatch", store.Op{Key: service("default", "other", 80).Key(), Resource: service("default", "x", 80)}, "does not match"},
		{"unknown kind", put(unknown), "unknown kind"},
		{"unknown kind delete", store.Op{Key: resource.Key{Kind: "Gateway", Name: "g"}}, "unknown kind"},
		{"empty name", put(service("default", "", 80)), "no name"},
		{"slash in name", put(service("default", "a/b", 80)), "slash"},
		{"spec of another kind", put(wrongSpec), "spec is"},
		{"delete missing", del(service("default", "missing", 80)), "Service/default/missing"},
	}
	for _, tc := range cases {
		// The bad op comes last, after ops that would change the store.
		rev, err := s.Commit(ctx, []store.Op{put(good), put(service("default", "base", 99)), del(base), tc.bad})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Commit error = %v, want one containing %q", tc.name, err, tc.want)
		}
		if rev != 1 || s.Revision() != 1 {
			t.Errorf("%s: revision = %d/%d after a refused commit, want 1", tc.name, rev, s.Revision())
		}
		if _, err := s.Get(ctx, good.Key()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: the good op of a refused commit was stored (Get error %v)", tc.name, err)
		}
		got, err := s.Get(ctx, base.Key())
		if err != nil || !reflect.DeepEqual(got, base) {
			t.Errorf("%s: base = %+v, %v; want it unchanged", tc.name, got, err)
		}
	}
	expectEmpty(t, w)
}

func testDelete(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	a, b := service("default", "a", 80), service("default", "b", 80)
	mustCommit(t, s, put(a), put(b))
	if rev := mustCommit(t, s, del(a)); rev != 2 {
		t.Fatalf("delete revision = %d, want 2", rev)
	}
	if _, err := s.Get(ctx, a.Key()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(deleted) error = %v, want ErrNotFound", err)
	}
	list, _, err := s.List(ctx, "")
	if err != nil || !slices.Equal(keys(list), []string{"Service/default/b"}) {
		t.Errorf("List after delete = %v, %v; want [Service/default/b]", keys(list), err)
	}
	// A put after a delete in the same commit re-creates the resource.
	if rev := mustCommit(t, s, del(b), put(service("default", "b", 81))); rev != 3 {
		t.Errorf("delete-then-put revision = %d, want 3", rev)
	}
}

func testDeleteMissing(t *testing.T, open opener) {
	s := open(t)
	a := service("default", "a", 80)
	mustCommit(t, s, put(a))
	missing := service("default", "missing", 80)
	rev, err := s.Commit(context.Background(), []store.Op{del(missing)})
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), missing.Key().String()) {
		t.Errorf("delete missing error = %v, want ErrNotFound naming %s", err, missing.Key())
	}
	if rev != 1 || s.Revision() != 1 {
		t.Errorf("revision after failed delete = %d/%d, want 1", rev, s.Revision())
	}
	// Deleting twice in one commit fails the same way, keeping the first.
	if _, err := s.Commit(context.Background(), []store.Op{del(a), del(a)}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("double delete error = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(context.Background(), a.Key()); err != nil {
		t.Errorf("a was deleted by a refused commit: %v", err)
	}
}

func testWatchNotifies(t *testing.T, open opener) {
	s := open(t)
	w := s.Watch(context.Background())
	expectEmpty(t, w)
	mustCommit(t, s, put(service("default", "a", 80)))
	if got := receive(t, w); got != 1 {
		t.Errorf("watch got %d, want 1", got)
	}
	mustCommit(t, s, put(service("default", "a", 81)))
	if got := receive(t, w); got != 2 {
		t.Errorf("watch got %d, want 2", got)
	}
}

func testWatchCoalesces(t *testing.T, open opener) {
	s := open(t)
	w := s.Watch(context.Background())
	const commits = 20
	for i := range commits {
		mustCommit(t, s, put(service("default", "a", uint32(1000+i))))
	}
	if got := receive(t, w); got != commits {
		t.Errorf("slow watcher got %d, want the latest, %d", got, commits)
	}
	expectEmpty(t, w)
}

func testWatchManyWatchers(t *testing.T, open opener) {
	s := open(t)
	const n = 8
	var chans []<-chan int64
	for range n {
		chans = append(chans, s.Watch(context.Background()))
	}
	mustCommit(t, s, put(service("default", "a", 80)))
	for i, w := range chans {
		if got := receive(t, w); got != 1 {
			t.Errorf("watcher %d got %d, want 1", i, got)
		}
	}
}

func testWatchClosesOnCancel(t *testing.T, open opener) {
	s := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	w := s.Watch(ctx)
	other := s.Watch(context.Background())
	cancel()
	waitClosed(t, w)
	// The others keep working.
	mustCommit(t, s, put(service("default", "a", 80)))
	if got := receive(t, other); got != 1 {
		t.Errorf("remaining watcher got %d, want 1", got)
	}
	// A watch on a done context is closed at once.
	waitClosed(t, s.Watch(ctx))
}

func testWatchClosesOnClose(t *testing.T, open opener) {
	s := open(t)
	w := s.Watch(context.Background())
	mustCommit(t, s, put(service("default", "a", 80)))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, w)
	waitClosed(t, s.Watch(context.Background()))
}

func testConcurrentCommits(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	const writers, each = 4, 25
	w := s.Watch(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				r := service("default", fmt.Sprintf("w%d-%d", g, i), 80)
				if _, err := s.Commit(ctx, []store.Op{put(r)}); err != nil {
					errs <- err
				}
				// Readers run alongside the writers.
				if _, _, err := s.List(ctx, resource.KindService); err != nil {
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
	if got := s.Revision(); got != writers*each {
		t.Errorf("revision = %d, want %d", got, writers*each)
	}
	list, _, err := s.List(ctx, "")
	if err != nil || len(list) != writers*each {
		t.Errorf("List = %d resources, %v; want %d", len(list), err, writers*each)
	}
	if got := receive(t, w); got != writers*each {
		t.Errorf("watcher's latest = %d, want %d", got, writers*each)
	}
}

func testClosedStore(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	a := service("default", "a", 80)
	mustCommit(t, s, put(a))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, []store.Op{put(a)}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Commit after Close error = %v, want ErrClosed", err)
	}
	if _, err := s.Get(ctx, a.Key()); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Get after Close error = %v, want ErrClosed", err)
	}
	if _, _, err := s.List(ctx, ""); !errors.Is(err, store.ErrClosed) {
		t.Errorf("List after Close error = %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func testSecrets(t *testing.T, open opener) {
	s := open(t)
	sec, ok := s.(store.Secrets)
	if !ok {
		t.Fatalf("%T does not implement store.Secrets", s)
	}
	w := s.Watch(context.Background())
	if _, err := sec.GetSecret("admin-token"); !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "admin-token") {
		t.Errorf("GetSecret(missing) error = %v, want ErrNotFound naming it", err)
	}
	value := []byte("s3cret")
	if err := sec.PutSecret("admin-token", value); err != nil {
		t.Fatal(err)
	}
	value[0] = 'X' // the store must have kept its own copy
	got, err := sec.GetSecret("admin-token")
	if err != nil || string(got) != "s3cret" {
		t.Fatalf("GetSecret = %q, %v; want s3cret", got, err)
	}
	got[0] = 'Y'
	if again, _ := sec.GetSecret("admin-token"); string(again) != "s3cret" {
		t.Errorf("GetSecret returned shared memory: now %q", again)
	}
	if err := sec.PutSecret("admin-token", []byte("rotated")); err != nil {
		t.Fatal(err)
	}
	if got, _ := sec.GetSecret("admin-token"); string(got) != "rotated" {
		t.Errorf("GetSecret after overwrite = %q, want rotated", got)
	}
	if err := sec.PutSecret("empty", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := sec.GetSecret("empty"); err != nil || len(got) != 0 {
		t.Errorf("GetSecret(empty) = %q, %v; want an empty value", got, err)
	}
	if err := sec.PutSecret("", []byte("x")); err == nil {
		t.Error("PutSecret with an empty name succeeded, want an error")
	}
	if rev := s.Revision(); rev != 0 {
		t.Errorf("revision after secret writes = %d, want 0", rev)
	}
	if list, _, err := s.List(context.Background(), ""); err != nil || len(list) != 0 {
		t.Errorf("List after secret writes = %v, %v; want empty", keys(list), err)
	}
	expectEmpty(t, w)
}

func testSwapSecret(t *testing.T, open opener) {
	s := open(t)
	sec := s.(store.Secrets)
	if err := sec.SwapSecret("tokens", nil, []byte("v1")); err != nil {
		t.Fatalf("create-if-absent: %v", err)
	}
	if err := sec.SwapSecret("tokens", nil, []byte("other")); !errors.Is(err, store.ErrSecretChanged) || !strings.Contains(err.Error(), "tokens") {
		t.Errorf("second create-if-absent error = %v, want ErrSecretChanged naming the secret", err)
	}
	if err := sec.SwapSecret("tokens", []byte("stale"), []byte("other")); !errors.Is(err, store.ErrSecretChanged) {
		t.Errorf("swap from a stale value error = %v, want ErrSecretChanged", err)
	}
	if err := sec.SwapSecret("missing", []byte("v1"), []byte("other")); !errors.Is(err, store.ErrSecretChanged) {
		t.Errorf("swap of a missing secret error = %v, want ErrSecretChanged", err)
	}
	if got, _ := sec.GetSecret("tokens"); string(got) != "v1" {
		t.Fatalf("after refused swaps the secret holds %q, want v1", got)
	}
	if err := sec.SwapSecret("tokens", []byte("v1"), []byte("v2")); err != nil {
		t.Fatalf("swap from the current value: %v", err)
	}
	if got, _ := sec.GetSecret("tokens"); string(got) != "v2" {
		t.Errorf("after the swap the secret holds %q, want v2", got)
	}
	if _, err := sec.GetSecret("missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused swap created the secret: %v", err)
	}
	if rev := s.Revision(); rev != 0 {
		t.Errorf("revision after secret swaps = %d, want 0", rev)
	}
}

// testSwapSecretConcurrent counts with read-and-swap from many writers:
// every increment must land once, none lost to another's write.
func testSwapSecretConcurrent(t *testing.T, open opener) {
	sec := open(t).(store.Secrets)
	const writers, each = 4, 10
	if err := sec.PutSecret("counter", []byte("0")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				for try := 0; try < 1000; try++ {
					cur, err := sec.GetSecret("counter")
					if err != nil {
						t.Error(err)
						return
					}
					n, _ := strconv.Atoi(string(cur))
					err = sec.SwapSecret("counter", cur, []byte(strconv.Itoa(n+1)))
					if err == nil {
						break
					}
					if !errors.Is(err, store.ErrSecretChanged) {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if got, _ := sec.GetSecret("counter"); string(got) != strconv.Itoa(writers*each) {
		t.Errorf("counter = %s after %d increments, want %d", got, writers*each, writers*each)
	}
}

func testReadyUntilClosed(t *testing.T, open opener) {
	s := open(t)
	if err := s.Ready(context.Background()); err != nil {
		t.Fatalf("Ready on an open store = %v, want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(context.Background()); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Ready after Close = %v, want ErrClosed", err)
	}
}
