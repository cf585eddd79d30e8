package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
)

// openBolt opens a Bolt store in dir and closes it when the test ends.
func openBolt(t testing.TB, dir string) *store.Bolt {
	t.Helper()
	s, err := store.OpenBolt(dir)
	if err != nil {
		t.Fatalf("OpenBolt(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestBolt(t *testing.T) {
	runConformance(t, func(t *testing.T) store.Store { return openBolt(t, t.TempDir()) })
}

func TestBoltCreatesPrivateDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	s := openBolt(t, dir)
	if s.Kind() != "bbolt" {
		t.Errorf("Kind = %q, want bbolt", s.Kind())
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, store.DBFile): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %v, want %v", path, got, want)
		}
	}
	if s.Path() != filepath.Join(dir, store.DBFile) {
		t.Errorf("Path = %s, want %s", s.Path(), filepath.Join(dir, store.DBFile))
	}
}

func TestBoltPersistsAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	first, err := store.OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, b := service("default", "a", 80), workload("default", "w", "a")
	mustCommit(t, first, put(a), put(mesh("example.org")))
	mustCommit(t, first, put(b))
	mustCommit(t, first, del(mesh("example.org")))
	if err := first.PutSecret("ca-key", []byte("pem bytes")); err != nil {
		t.Fatal(err)
	}
	before, beforeRev, err := first.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	second := openBolt(t, dir)
	if got := second.Revision(); got != 3 || beforeRev != 3 {
		t.Fatalf("revision after reopen = %d (before close %d), want 3", got, beforeRev)
	}
	after, afterRev, err := second.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if afterRev != 3 || !reflect.DeepEqual(after, before) || !reflect.DeepEqual(after, []*resource.Resource{a, b}) {
		t.Errorf("List after reopen = %v at %d, want %v at 3", keys(after), afterRev, keys(before))
	}
	if got, err := second.GetSecret("ca-key"); err != nil || string(got) != "pem bytes" {
		t.Errorf("GetSecret after reopen = %q, %v; want \"pem bytes\"", got, err)
	}
	// The revision carries on from where it was.
	if rev := mustCommit(t, second, put(service("default", "a", 81))); rev != 4 {
		t.Errorf("first commit after reopen = %d, want 4", rev)
	}
}

func TestBoltSecondOpenFailsWhileLocked(t *testing.T) {
	dir := t.TempDir()
	first, err := store.OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	// bbolt's flock belongs to the open file, so a second open in this
	// process is refused just like one from another process.
	second, err := store.OpenBolt(dir)
	if err == nil {
		_ = second.Close()
		t.Fatal("second OpenBolt of a held data dir succeeded, want an error")
	}
	want := "data dir " + dir + " is in use by another embassy-cp (database lock held): stop it or pick another --data-dir"
	if !errors.Is(err, store.ErrLocked) || err.Error() != want {
		t.Errorf("second OpenBolt error = %q, want %q wrapping ErrLocked", err, want)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	openBolt(t, dir) // the lock is released with Close
}

func TestBoltOpenRefusesBadDataDir(t *testing.T) {
	if _, err := store.OpenBolt(""); err == nil || !strings.Contains(err.Error(), "--data-dir") {
		t.Errorf("OpenBolt(\"\") error = %v, want one naming --data-dir", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := store.OpenBolt(file); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("OpenBolt(a file) error = %v, want one naming %s", err, file)
	}
}

func BenchmarkBoltCommit(b *testing.B) {
	s := openBolt(b, b.TempDir())
	ctx := context.Background()
	r := service("default", "bench", 1)
	spec := r.Spec.(*resource.ServiceSpec)
	port := uint32(1)
	for b.Loop() {
		// A new port each time, so every commit writes.
		port++
		spec.Ports[0].Port = port
		if _, err := s.Commit(ctx, []store.Op{put(r)}); err != nil {
			b.Fatal(err)
		}
	}
}
