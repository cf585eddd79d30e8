package store_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"embassy.dev/embassy/internal/etcdtest"
	"embassy.dev/embassy/pkg/store"
)

// BenchmarkCommit measures one apply's commit on each persistent store:
// one Service, and 1,000 (past etcd's per-transaction limits). Run with
// go test -run XXX -bench Commit -benchtime 100x ./pkg/store/
func BenchmarkCommit(b *testing.B) {
	m := etcdtest.Start(b)
	stores := map[string]func() store.Store{
		"bbolt": func() store.Store { return openBolt(b, b.TempDir()) },
		"etcd":  func() store.Store { return etcdtest.Open(b, etcdtest.Config(m.ClientURL())) },
	}
	for _, kind := range []string{"bbolt", "etcd"} {
		for _, n := range []int{1, 1000} {
			b.Run(fmt.Sprintf("%s/%d", kind, n), func(b *testing.B) {
				s := stores[kind]()
				ops := services(n, 1000)
				b.ResetTimer()
				for i := range b.N {
					// Each round changes every resource, so each commit writes.
					for _, op := range ops {
						op.Resource.Metadata.Labels["round"] = strconv.Itoa(i)
					}
					if _, err := s.Commit(context.Background(), ops); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
