package store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/store"
)

// backuper is a store that backs up: *store.Bolt and *store.Etcd.
type backuper interface {
	Backup(begin func(store.BackupInfo) (io.Writer, error)) (int64, error)
}

// backupTo writes a backup of s to a new file and returns its path.
func backupTo(t *testing.T, s backuper) (string, store.BackupInfo) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var info store.BackupInfo
	n, err := s.Backup(func(i store.BackupInfo) (io.Writer, error) { info = i; return f, nil })
	if err != nil || n != info.Size {
		t.Fatalf("Backup = %d, %v; want %d bytes", n, err, info.Size)
	}
	return path, info
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := openBolt(t, t.TempDir())
	mustCommit(t, src, put(service("default", "a", 80)), put(mesh("example.org")))
	if err := src.PutSecret("tokens/x", []byte("hashed")); err != nil {
		t.Fatal(err)
	}
	path, info := backupTo(t, src)
	// A commit after the backup is not in it: the copy is one transaction.
	mustCommit(t, src, put(service("default", "b", 80)))
	if info.StoreID != src.Record().StoreID || info.Revision != 1 {
		t.Errorf("backup info = %+v, want store %s at revision 1", info, src.Record().StoreID)
	}
	if got, err := store.InspectBackup(path); err != nil || got != info {
		t.Errorf("InspectBackup = %+v, %v; want %+v", got, err, info)
	}

	dir := t.TempDir()
	res, err := store.RestoreBolt(dir, path, false)
	if err != nil || res.Aside != "" || res.Backup != info {
		t.Fatalf("RestoreBolt = %+v, %v", res, err)
	}
	restored := openBolt(t, dir)
	want, _, _ := src.List(ctx, "")
	got, rev, err := restored.List(ctx, "")
	if err != nil || rev != 1 || !reflect.DeepEqual(keys(got), keys(want[:2])) {
		t.Errorf("restored List = %v at %d, %v; want %v at 1", keys(got), rev, err, keys(want[:2]))
	}
	if v, err := restored.GetSecret("tokens/x"); err != nil || string(v) != "hashed" {
		t.Errorf("restored secret = %q, %v", v, err)
	}
	if restored.Record().StoreID != info.StoreID {
		t.Errorf("restored record names store %s, want %s", restored.Record().StoreID, info.StoreID)
	}
	if fi, err := os.Stat(filepath.Join(dir, store.DBFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("restored database: %v, %v; want mode 0600", fi, err)
	}
}

func TestRestoreRefusesAnInitializedDirUnlessForced(t *testing.T) {
	src := openBolt(t, t.TempDir())
	path, info := backupTo(t, src)
	dir, _ := closedStore(t)
	before, err := os.ReadFile(filepath.Join(dir, store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.RestoreBolt(dir, path, false); err == nil || !strings.Contains(err.Error(), "pass --force") {
		t.Fatalf("RestoreBolt over an initialized dir = %v, want a refusal naming --force", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, store.DBFile)); !bytes.Equal(after, before) {
		t.Fatal("a refused restore changed the database")
	}
	// While a control plane holds the dir, even --force is refused.
	held := openBolt(t, dir)
	if _, err := store.RestoreBolt(dir, path, true); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("RestoreBolt of a held dir = %v, want ErrLocked", err)
	}
	held.Close()
	// Opening wrote a transaction: compare with the database as it is now.
	if before, err = os.ReadFile(filepath.Join(dir, store.DBFile)); err != nil {
		t.Fatal(err)
	}
	res, err := store.RestoreBolt(dir, path, true)
	if err != nil {
		t.Fatal(err)
	}
	if aside, err := os.ReadFile(res.Aside); err != nil || !bytes.Equal(aside, before) {
		t.Errorf("the replaced database was not kept at %q: %v", res.Aside, err)
	}
	if got := openBolt(t, dir).Record().StoreID; got != info.StoreID {
		t.Errorf("store after a forced restore = %s, want %s", got, info.StoreID)
	}
}

func TestRestoreRefusesWhatIsNotABackup(t *testing.T) {
	tmp := t.TempDir()
	for name, content := range map[string][]byte{"empty": nil, "text": []byte("not a database\n")} {
		path := filepath.Join(tmp, name)
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(tmp, name+"-dir")
		if _, err := store.RestoreBolt(dir, path, false); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: RestoreBolt = %v, want an error naming %s", name, err, path)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: a refused restore made %s", name, dir)
		}
	}
}
