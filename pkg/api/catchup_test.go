package api

import (
	"context"
	"sync/atomic"
	"testing"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
)

// TestReadsWaitForTheSnapshotToReachTheStore: right after an apply, the
// control plane's snapshot may still be the one before; a check answered
// from it would judge the mesh before the apply. The read waits until the
// snapshot reaches the store's revision.
func TestReadsWaitForTheSnapshotToReachTheStore(t *testing.T) {
	st := store.NewMemory()
	rs, err := resource.Decode("w.yaml", []byte(meshtest.WorkloadEcho))
	if err != nil {
		t.Fatal(err)
	}
	rev, err := st.Commit(context.Background(), []store.Op{{Key: rs[0].Key(), Resource: rs[0]}})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	s := &server{o: Options{Store: st, Mesh: func() *mesh.Snapshot {
		// The first few reads see the snapshot before the commit.
		if calls.Add(1) < 5 {
			return mesh.New(rev-1, nil)
		}
		return mesh.New(rev, nil)
	}}}
	m, err := s.meshSnapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m.Revision != rev {
		t.Fatalf("read answered from the snapshot at revision %d, the store is at %d", m.Revision, rev)
	}
}
