package store

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"embassy.dev/embassy/internal/nettest"
	"embassy.dev/embassy/pkg/resource"
)

// These tests stop a large commit where a control plane killed mid-way
// would leave it, which only this package can do. internal/etcdtest
// imports this package, so they start their member themselves.

// openPair starts a member and opens two stores on one prefix: the writer
// that "dies" and the one that comes next.
func openPair(t *testing.T, maxOps int) (*Etcd, *Etcd) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := StartMember(ctx, EmbedConfig{Name: "m0", Dir: t.TempDir(), ClientURL: "http://127.0.0.1:0", LogLevel: "fatal",
		Peers: []Peer{{Name: "m0", URL: "http://" + nettest.FreeAddr(t)}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	cfg := EtcdConfig{Endpoints: []string{m.ClientURL()}, MaxTxnOps: maxOps}
	var out [2]*Etcd
	for i := range out {
		if out[i], err = OpenEtcd(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = out[i].Close() })
	}
	return out[0], out[1]
}

// stagedWrites are puts of n Services, as a commit would write them.
func stagedWrites(t *testing.T, e *Etcd, n int) []etcdWrite {
	t.Helper()
	var ops []Op
	for i := range n {
		r := &resource.Resource{APIVersion: resource.APIVersion, Kind: resource.KindService,
			Metadata: resource.Metadata{Name: fmt.Sprintf("s%03d", i), Namespace: "default"},
			Spec:     &resource.ServiceSpec{Ports: []resource.ServicePort{{Name: "http", Port: 80, Protocol: resource.ProtocolHTTP}}}}
		ops = append(ops, Op{Key: r.Key(), Resource: r})
	}
	enc, err := prepareOps(ops)
	if err != nil {
		t.Fatal(err)
	}
	writes, err := stage(enc, func(resource.Key) ([]byte, bool) { return nil, false })
	if err != nil {
		t.Fatal(err)
	}
	ws, err := e.etcdWrites(writes)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// leftovers lists the intent and chunk keys in etcd.
func leftovers(t *testing.T, e *Etcd) []string {
	t.Helper()
	resp, err := e.client.Get(context.Background(), e.keys.prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, kv := range resp.Kvs {
		if k := string(kv.Key); k == e.keys.intent() || strings.HasPrefix(k, e.keys.pending("")) {
			out = append(out, k)
		}
	}
	return out
}

func TestEtcdCommitCutAfterItsCommitPointIsFinishedByTheNext(t *testing.T) {
	dead, next := openPair(t, 8)
	ctx := context.Background()
	guard := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(dead.keys.intent()), "=", 0)}
	// The writer "dies" right after its commit point: chunks and intent
	// are written, no resource key is.
	if _, _, ok, err := dead.writeAhead(ctx, stagedWrites(t, dead, 40), 1, guard); err != nil || !ok {
		t.Fatalf("writeAhead = %v, %v", ok, err)
	}
	list, rev, err := next.List(ctx, "")
	if err != nil || len(list) != 40 || rev != 1 {
		t.Fatalf("a reader during the roll-forward sees %d resources at %d (%v), want all 40 at 1", len(list), rev, err)
	}
	if _, err := next.Get(ctx, list[39].Key()); err != nil {
		t.Fatalf("Get during the roll-forward: %v", err)
	}
	// The next commit, on another control plane, finishes it first.
	extra := &resource.Resource{APIVersion: resource.APIVersion, Kind: resource.KindMesh,
		Metadata: resource.Metadata{Name: "default"}, Spec: &resource.MeshSpec{TrustDomain: "example.org"}}
	if rev, err := next.Commit(ctx, []Op{{Key: extra.Key(), Resource: extra}}); err != nil || rev != 2 {
		t.Fatalf("the next commit = %d, %v; want revision 2", rev, err)
	}
	if left := leftovers(t, next); len(left) != 0 {
		t.Errorf("the intent was not finished: %v", left)
	}
	// Now the resource keys themselves hold the commit.
	resp, err := next.client.Get(ctx, next.keys.resources(resource.KindService), clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || resp.Count != 40 {
		t.Errorf("etcd holds %d Service keys after the roll-forward, %v; want 40", resp.Count, err)
	}
}

func TestEtcdOrphanChunksAreSwept(t *testing.T) {
	w, _ := openPair(t, 8)
	ctx := context.Background()
	// A writer died between its chunks and its commit point, long ago, and
	// another just now (it may still be writing: its chunks stay).
	old := w.keys.chunk(newCommitID(time.Now().Add(-2*orphanChunkAge)), 0)
	recent := w.keys.chunk(newCommitID(time.Now()), 0)
	for _, k := range []string{old, recent} {
		if _, err := w.client.Put(ctx, k, "[]"); err != nil {
			t.Fatal(err)
		}
	}
	var ops []Op
	for _, wr := range stagedWrites(t, w, 40) {
		r, err := decode(wr.K, wr.V)
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, Op{Key: r.Key(), Resource: r})
	}
	if _, err := w.Commit(ctx, ops); err != nil {
		t.Fatal(err)
	}
	left := leftovers(t, w)
	if len(left) != 1 || left[0] != recent {
		t.Errorf("chunks left after a large commit = %v, want only the recent orphan %s", left, recent)
	}
}

func TestEtcdALateFinisherOfACommitIsHarmless(t *testing.T) {
	a, b := openPair(t, 8)
	ctx := context.Background()
	guard := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(a.keys.intent()), "=", 0)}
	in, mod, ok, err := a.writeAhead(ctx, stagedWrites(t, a, 40), 1, guard)
	if err != nil || !ok {
		t.Fatalf("writeAhead = %v, %v", ok, err)
	}
	// b read the intent, then a finished it (and deleted its chunks)
	// before b got to it: b must see that, not a corrupt store.
	if err := a.rollForward(ctx, in, mod); err != nil {
		t.Fatal(err)
	}
	if err := b.rollForward(ctx, in, mod); err != nil {
		t.Fatalf("finishing a commit another control plane finished first: %v", err)
	}
	if left := leftovers(t, a); len(left) != 0 {
		t.Fatalf("left over: %v", left)
	}
	if list, rev, err := b.List(ctx, ""); err != nil || len(list) != 40 || rev != 1 {
		t.Fatalf("after both finished: %d resources at %d, %v; want 40 at 1", len(list), rev, err)
	}
}

func TestEtcdCommitCutAndCompactedPastIsStillFinished(t *testing.T) {
	dead, next := openPair(t, 8)
	ctx := context.Background()
	guard := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(dead.keys.intent()), "=", 0)}
	if _, _, ok, err := dead.writeAhead(ctx, stagedWrites(t, dead, 40), 1, guard); err != nil || !ok {
		t.Fatalf("writeAhead = %v, %v", ok, err)
	}
	// Nobody writes for a while; other keys move etcd on and it compacts
	// past the intent's revision.
	if err := next.PutSecret("unrelated", []byte("x")); err != nil {
		t.Fatal(err)
	}
	resp, err := next.client.Get(ctx, "compact-point")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := next.client.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	extra := &resource.Resource{APIVersion: resource.APIVersion, Kind: resource.KindMesh,
		Metadata: resource.Metadata{Name: "default"}, Spec: &resource.MeshSpec{TrustDomain: "example.org"}}
	if rev, err := next.Commit(ctx, []Op{{Key: extra.Key(), Resource: extra}}); err != nil || rev != 2 {
		t.Fatalf("the next commit after the compaction = %d, %v; want revision 2", rev, err)
	}
	if list, _, err := next.List(ctx, ""); err != nil || len(list) != 41 {
		t.Fatalf("after the compaction: %d resources, %v; want 41", len(list), err)
	}
	if left := leftovers(t, next); len(left) != 0 {
		t.Errorf("left over: %v", left)
	}
}

// TestEtcdListSharedFollowsOtherReplicas reads with ListShared on one
// control plane while another writes: through a commit being rolled
// forward, its finish, a compaction and a change made elsewhere, it
// decodes only what changed and always matches a fresh List.
func TestEtcdListSharedFollowsOtherReplicas(t *testing.T) {
	other, reader := openPair(t, 8)
	ctx := context.Background()
	check := func(step string, wantDecoded int) []*resource.Resource {
		t.Helper()
		before := reader.shared.decodes()
		got, rev, err := reader.ListShared(ctx)
		if err != nil {
			t.Fatalf("%s: ListShared: %v", step, err)
		}
		fresh, freshRev, err := reader.List(ctx, "")
		if err != nil || freshRev != rev || !reflect.DeepEqual(got, fresh) {
			t.Fatalf("%s: ListShared at %d differs from List at %d (%v)", step, rev, freshRev, err)
		}
		if n := reader.shared.decodes() - before; n != wantDecoded {
			t.Errorf("%s: ListShared decoded %d values, want %d", step, n, wantDecoded)
		}
		return got
	}
	guard := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(other.keys.intent()), "=", 0)}
	if _, _, ok, err := other.writeAhead(ctx, stagedWrites(t, other, 40), 1, guard); err != nil || !ok {
		t.Fatalf("writeAhead = %v, %v", ok, err)
	}
	if got := check("during the roll-forward", 40); len(got) != 40 {
		t.Fatalf("during the roll-forward ListShared sees %d resources, want 40", len(got))
	}
	extra := &resource.Resource{APIVersion: resource.APIVersion, Kind: resource.KindMesh,
		Metadata: resource.Metadata{Name: "default"}, Spec: &resource.MeshSpec{TrustDomain: "example.org"}}
	if _, err := reader.Commit(ctx, []Op{{Key: extra.Key(), Resource: extra}}); err != nil {
		t.Fatal(err)
	}
	// The finished commit moved the same bytes into the resource keys.
	check("after the roll-forward finished", 1)
	resp, err := reader.client.Get(ctx, "compact-point")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reader.client.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	check("after a compaction", 0)
	changed := &resource.Resource{APIVersion: resource.APIVersion, Kind: resource.KindService,
		Metadata: resource.Metadata{Name: "s007", Namespace: "default"},
		Spec:     &resource.ServiceSpec{Ports: []resource.ServicePort{{Name: "http", Port: 8080, Protocol: resource.ProtocolHTTP}}}}
	if _, err := other.Commit(ctx, []Op{{Key: changed.Key(), Resource: changed}, {Key: extra.Key()}}); err != nil {
		t.Fatal(err)
	}
	got := check("after the other control plane's change", 1)
	if len(got) != 40 || got[7].Spec.(*resource.ServiceSpec).Ports[0].Port != 8080 {
		t.Errorf("after the other control plane's change ListShared has %d resources, s007 %+v; want 40, port 8080", len(got), got[7].Spec)
	}
}
