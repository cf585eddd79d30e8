package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
)

// listShared calls ListShared and checks that it returns what List
// decodes afresh at the same revision.
func listShared(t *testing.T, s store.Store) []*resource.Resource {
	t.Helper()
	ctx := context.Background()
	got, rev, err := s.ListShared(ctx)
	if err != nil {
		t.Fatalf("ListShared: %v", err)
	}
	fresh, freshRev, err := s.List(ctx, "")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if rev != freshRev {
		t.Fatalf("ListShared read revision %d, List %d, with no commit between", rev, freshRev)
	}
	if !reflect.DeepEqual(got, fresh) {
		t.Fatalf("ListShared at revision %d returns\n%v\nbut the store decodes to\n%v", rev, keysOf(got), keysOf(fresh))
	}
	return got
}

func keysOf(rs []*resource.Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprintf("%s=%+v", r.Key(), r.Spec)
	}
	return out
}

// byKey indexes resources by key.
func byKey(rs []*resource.Resource) map[resource.Key]*resource.Resource {
	out := make(map[resource.Key]*resource.Resource, len(rs))
	for _, r := range rs {
		out[r.Key()] = r
	}
	return out
}

func testListSharedDecodesOnlyChanges(t *testing.T, open opener) {
	s := open(t)
	a, b, w, m := service("default", "a", 80), service("default", "b", 80), workload("default", "w", "a"), mesh("example.org")
	mustCommit(t, s, put(a), put(b), put(w), put(m))
	first := byKey(listShared(t, s))
	if got := store.SharedDecodes(s); got != 4 {
		t.Fatalf("the first ListShared decoded %d values, want all 4", got)
	}
	again := byKey(listShared(t, s))
	if got := store.SharedDecodes(s); got != 4 {
		t.Errorf("a ListShared with nothing changed decoded %d more values, want none", got-4)
	}
	for k, r := range first {
		if again[k] != r {
			t.Errorf("%s unchanged but ListShared returned a new *Resource", k)
		}
	}

	mustCommit(t, s, put(service("default", "b", 81)))
	changed := byKey(listShared(t, s))
	if got := store.SharedDecodes(s); got != 5 {
		t.Errorf("after changing one resource ListShared decoded %d values, want 1", got-4)
	}
	if port := changed[b.Key()].Spec.(*resource.ServiceSpec).Ports[0].Port; port != 81 {
		t.Errorf("the changed Service has port %d, want its new 81", port)
	}
	for _, k := range []resource.Key{a.Key(), w.Key(), m.Key()} {
		if changed[k] != first[k] {
			t.Errorf("%s unchanged but ListShared decoded it again", k)
		}
	}

	mustCommit(t, s, del(a))
	if _, ok := byKey(listShared(t, s))[a.Key()]; ok {
		t.Errorf("%s deleted but ListShared still returns it", a.Key())
	}
	// The deleted value's decode was dropped with it: putting the same
	// value back decodes it anew.
	mustCommit(t, s, put(a))
	back := byKey(listShared(t, s))
	if got := store.SharedDecodes(s); got != 6 {
		t.Errorf("re-adding a deleted resource decoded %d values, want 1", got-5)
	}
	if back[a.Key()] == first[a.Key()] {
		t.Errorf("%s deleted and re-added, but ListShared returned the resource decoded before the delete", a.Key())
	}
}

// testListSharedRandom commits random puts, changes and deletes and checks
// after each that ListShared equals a fresh decode and decoded exactly the
// values that are new or changed.
func testListSharedRandom(t *testing.T, open opener) {
	s := open(t)
	rng := rand.New(rand.NewPCG(13, 7))
	const keys, commits = 12, 60
	model := map[int]uint32{} // key index → port, for the stored ones
	for range commits {
		next := map[int]uint32{}
		for k, v := range model {
			next[k] = v
		}
		var ops []store.Op
		for range 1 + rng.IntN(4) {
			i := rng.IntN(keys)
			name := fmt.Sprintf("s%02d", i)
			if _, ok := next[i]; ok && rng.IntN(3) == 0 {
				ops = append(ops, del(service("default", name, 0)))
				delete(next, i)
				continue
			}
			port := 80 + uint32(rng.IntN(3))
			ops = append(ops, put(service("default", name, port)))
			next[i] = port
		}
		want := 0
		for k, v := range next {
			if old, ok := model[k]; !ok || old != v {
				want++
			}
		}
		before := store.SharedDecodes(s)
		mustCommit(t, s, ops...)
		listShared(t, s)
		if got := store.SharedDecodes(s) - before; got != want {
			t.Fatalf("ListShared decoded %d values after a commit that made %d new or changed", got, want)
		}
		model = next
	}
}

// testListSharedConcurrent reads with ListShared while commits rewrite
// every resource: each read must be one whole commit.
func testListSharedConcurrent(t *testing.T, open opener) {
	s := open(t)
	const n, commits, readers = 8, 20, 3
	commit := func(port uint32) {
		ops := make([]store.Op, n)
		for i := range ops {
			ops[i] = put(service("default", fmt.Sprintf("s%d", i), port))
		}
		mustCommit(t, s, ops...)
	}
	commit(1000)
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	done := make(chan struct{})
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				rs, rev, err := s.ListShared(context.Background())
				if err != nil {
					errs <- err
					return
				}
				for _, r := range rs {
					if p := r.Spec.(*resource.ServiceSpec).Ports[0].Port; int64(p) != 999+rev {
						errs <- fmt.Errorf("at revision %d %s has port %d, want %d", rev, r.Key(), p, 999+rev)
						return
					}
				}
			}
		}()
	}
	for i := range commits {
		commit(1001 + uint32(i))
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	listShared(t, s)
}
