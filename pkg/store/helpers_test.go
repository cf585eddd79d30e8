package store_test

import (
	"context"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
)

// waitFor bounds every wait on a watcher; reaching it fails the test.
const waitFor = 5 * time.Second

// service builds a Service with one port; port tells versions apart.
func service(ns, name string, port uint32) *resource.Resource {
	return &resource.Resource{
		APIVersion: resource.APIVersion,
		Kind:       resource.KindService,
		Metadata:   resource.Metadata{Name: name, Namespace: ns},
		Spec: &resource.ServiceSpec{Ports: []resource.ServicePort{
			{Name: "http", Port: port, Protocol: resource.ProtocolHTTP},
		}},
	}
}

// workload builds a Workload backing one service.
func workload(ns, name, svc string) *resource.Resource {
	return &resource.Resource{
		APIVersion: resource.APIVersion,
		Kind:       resource.KindWorkload,
		Metadata:   resource.Metadata{Name: name, Namespace: ns, Labels: map[string]string{"version": "v1"}},
		Spec:       &resource.WorkloadSpec{Address: "10.0.0.1", Services: []string{svc}},
	}
}

// mesh builds the cluster-wide Mesh.
func mesh(td string) *resource.Resource {
	return &resource.Resource{
		APIVersion: resource.APIVersion,
		Kind:       resource.KindMesh,
		Metadata:   resource.Metadata{Name: "default"},
		Spec:       &resource.MeshSpec{TrustDomain: td},
	}
}

// put is the op that stores r under its own key.
func put(r *resource.Resource) store.Op { return store.Op{Key: r.Key(), Resource: r} }

// del is the op that deletes r's key.
func del(r *resource.Resource) store.Op { return store.Op{Key: r.Key()} }

// mustCommit commits ops and fails the test on error.
func mustCommit(t testing.TB, s store.Store, ops ...store.Op) int64 {
	t.Helper()
	rev, err := s.Commit(context.Background(), ops)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return rev
}

// keys renders resources' keys, to compare lists readably.
func keys(rs []*resource.Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Key().String()
	}
	return out
}

// receive waits for one value from a watch channel, failing at the
// deadline or when the channel closes.
func receive(t *testing.T, ch <-chan int64) int64 {
	t.Helper()
	select {
	case rev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed, want a revision")
		}
		return rev
	case <-time.After(waitFor):
		t.Fatalf("no revision within %v", waitFor)
	}
	return 0
}

// expectEmpty fails if a value is ready on the channel right now. Commits
// notify before they return, so "nothing ready" is a settled fact.
func expectEmpty(t *testing.T, ch <-chan int64) {
	t.Helper()
	select {
	case rev, ok := <-ch:
		t.Fatalf("watch got (%d, open=%v), want nothing", rev, ok)
	default:
	}
}

// waitClosed drains ch until it is closed, failing at the deadline.
func waitClosed(t *testing.T, ch <-chan int64) {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("watch channel still open after %v", waitFor)
		}
	}
}
