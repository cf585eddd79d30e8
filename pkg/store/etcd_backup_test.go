package store_test

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"embassy.dev/embassy/internal/etcdtest"
	"embassy.dev/embassy/pkg/store"
)

// sameContents fails unless a and b hold the same resources and the
// secret named (none when "").
func sameContents(t *testing.T, a, b store.Store, secret string) {
	t.Helper()
	ctx := context.Background()
	want, _, err := a.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := b.List(ctx, "")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("resources = %v, %v; want %v", keys(got), err, keys(want))
	}
	if secret == "" {
		return
	}
	ws, _ := a.(store.Secrets).GetSecret(secret)
	gs, err := b.(store.Secrets).GetSecret(secret)
	if err != nil || string(gs) != string(ws) {
		t.Fatalf("secret %s = %q, %v; want %q", secret, gs, err, ws)
	}
}

func TestEtcdBackupRestoresIntoBolt(t *testing.T) {
	m := etcdtest.Start(t)
	src := etcdtest.Open(t, etcdtest.Config(m.ClientURL()))
	mustCommit(t, src, put(service("default", "a", 80)), put(mesh("example.org")))
	mustCommit(t, src, put(workload("default", "w", "a")))
	if err := src.PutSecret("ca/key", []byte("pem")); err != nil {
		t.Fatal(err)
	}
	path, info := backupTo(t, src)
	if info.StoreID != src.StoreID() || info.Revision != 2 {
		t.Fatalf("backup info = %+v, want store %s at revision 2", info, src.StoreID())
	}
	if got, err := store.InspectBackup(path); err != nil || got != info {
		t.Fatalf("InspectBackup = %+v, %v; want %+v", got, err, info)
	}
	dir := t.TempDir()
	if _, err := store.RestoreBolt(dir, path, false); err != nil {
		t.Fatal(err)
	}
	b := openBolt(t, dir)
	sameContents(t, src, b, "ca/key")
	if b.Revision() != 2 || b.Record().StoreID != src.StoreID() {
		t.Errorf("restored bbolt store at revision %d, id %s; want 2, %s", b.Revision(), b.Record().StoreID, src.StoreID())
	}
}

func TestEtcdRestoreFromBolt(t *testing.T) {
	ctx := context.Background()
	src := openBolt(t, t.TempDir())
	mustCommit(t, src, put(service("default", "a", 80)), put(mesh("example.org")))
	if err := src.PutSecret("ca/key", []byte("pem")); err != nil {
		t.Fatal(err)
	}
	path, info := backupTo(t, src)
	m := etcdtest.Start(t)
	cfg := etcdtest.Config(m.ClientURL())
	res, err := store.RestoreEtcd(ctx, cfg, path, false)
	if err != nil || res.Aside != "" || res.Backup != info {
		t.Fatalf("RestoreEtcd into an empty prefix = %+v, %v", res, err)
	}
	e := etcdtest.Open(t, cfg)
	sameContents(t, src, e, "ca/key")
	if e.Revision() != 1 || e.StoreID() != src.Record().StoreID {
		t.Errorf("restored etcd store at revision %d, id %s; want 1, %s", e.Revision(), e.StoreID(), src.Record().StoreID)
	}
}

func TestEtcdRestoreReplacesOnlyWithForce(t *testing.T) {
	ctx := context.Background()
	src := openBolt(t, t.TempDir())
	mustCommit(t, src, put(service("default", "restored", 80)))
	path, _ := backupTo(t, src)

	m := etcdtest.Start(t)
	cfg := etcdtest.Config(m.ClientURL())
	live := etcdtest.Open(t, cfg)
	for i := range 3 {
		mustCommit(t, live, put(service("default", "old", uint32(80+i))))
	}
	if err := live.PutSecret("old-only", []byte("x")); err != nil {
		t.Fatal(err)
	}
	w := live.Watch(ctx)
	if _, err := store.RestoreEtcd(ctx, cfg, path, false); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("restore over a store without --force = %v, want a refusal naming --force", err)
	}
	if list, _, _ := live.List(ctx, ""); len(list) != 1 || list[0].Metadata.Name != "old" {
		t.Fatalf("a refused restore changed the store: %v", keys(list))
	}
	res, err := store.RestoreEtcd(ctx, cfg, path, true)
	if err != nil || res.Aside == "" {
		t.Fatalf("RestoreEtcd --force = %+v, %v; want the replaced store set aside", res, err)
	}
	// The backup's revision is 1, the replaced store's 3: revisions never
	// go back, so watchers see a newer one.
	if got := receive(t, w); got != 4 {
		t.Fatalf("a running store's watcher got %d after the restore, want 4", got)
	}
	sameContents(t, src, live, "")
	if _, err := live.GetSecret("old-only"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a secret only the replaced store had survived the restore: %v", err)
	}
	if info, err := store.InspectBackup(res.Aside); err != nil || info.Revision != 3 {
		t.Errorf("the replaced store's copy %s reads as %+v, %v; want revision 3", res.Aside, info, err)
	}
	if fi, err := os.Stat(res.Aside); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the replaced store's copy: %v, %v; want mode 0600", fi, err)
	}
}
