package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"embassy.dev/embassy/pkg/store"
)

// closedStore opens a new store in a new dir, stores a secret, closes it
// and returns the dir and the store's record.
func closedStore(t *testing.T) (string, store.Record) {
	t.Helper()
	dir := t.TempDir()
	s, err := store.OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutSecret("ca/roots", []byte("the CA")); err != nil {
		t.Fatal(err)
	}
	rec := s.Record()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, rec
}

// expectRefused opens dir and wants a refusal wrapping ErrNotThisStore
// that says why (want) and how to restore.
func expectRefused(t *testing.T, dir, want string) {
	t.Helper()
	s, err := store.OpenBolt(dir)
	if err == nil {
		s.Close()
		t.Fatalf("OpenBolt succeeded, want a refusal saying %q", want)
	}
	msg := err.Error()
	if !errors.Is(err, store.ErrNotThisStore) || !strings.Contains(msg, want) ||
		!strings.Contains(msg, "embassy-cp restore --data-dir "+dir+" --from FILE --force") || !strings.Contains(msg, "embassyctl backup") {
		t.Errorf("OpenBolt error = %q, want ErrNotThisStore saying %q and how to restore", msg, want)
	}
}

func TestBoltWritesTheDataDirRecord(t *testing.T) {
	dir, rec := closedStore(t)
	if len(rec.StoreID) != 32 || rec.CreatedAt.IsZero() {
		t.Fatalf("record = %+v, want a 32-hex-digit store id and a creation time", rec)
	}
	fi, err := os.Stat(filepath.Join(dir, store.RecordFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("record file: %v, %v; want mode 0600", fi, err)
	}
	got, err := store.ReadRecord(dir)
	if err != nil || got.StoreID != rec.StoreID {
		t.Fatalf("ReadRecord = %+v, %v; want store %s", got, err, rec.StoreID)
	}
	// A reopen keeps the same store.
	if again := openBolt(t, dir).Record(); again.StoreID != rec.StoreID {
		t.Errorf("store id after reopen = %s, want %s", again.StoreID, rec.StoreID)
	}
}

func TestBoltRefusesAMissingDatabase(t *testing.T) {
	dir, _ := closedStore(t)
	db := filepath.Join(dir, store.DBFile)
	if err := os.Remove(db); err != nil {
		t.Fatal(err)
	}
	expectRefused(t, dir, "its database embassy.db is missing")
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused open made %s: %v", db, err)
	}
}

func TestBoltRefusesAnEmptiedDatabase(t *testing.T) {
	dir, _ := closedStore(t)
	db := filepath.Join(dir, store.DBFile)
	if err := os.Truncate(db, 0); err != nil {
		t.Fatal(err)
	}
	expectRefused(t, dir, "its database embassy.db is empty (0 bytes)")
	if fi, err := os.Stat(db); err != nil || fi.Size() != 0 {
		t.Errorf("the refused open changed %s: %v, %v", db, fi, err)
	}
}

func TestBoltRefusesADatabaseWithoutBuckets(t *testing.T) {
	dir, _ := closedStore(t)
	db := filepath.Join(dir, store.DBFile)
	if err := os.Remove(db); err != nil {
		t.Fatal(err)
	}
	bare, err := bolt.Open(db, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	bare.Close()
	expectRefused(t, dir, "holds no Embassy store (no buckets)")
}

func TestBoltRefusesADatabaseOfAnotherDir(t *testing.T) {
	dir, _ := closedStore(t)
	other, otherRec := closedStore(t)
	raw, err := os.ReadFile(filepath.Join(other, store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, store.DBFile), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	expectRefused(t, dir, "is store "+otherRec.StoreID+", from another data dir")
}

func TestBoltAdoptsADatabaseWithoutRecord(t *testing.T) {
	// A data dir of an earlier build has a database but no record.
	dir, rec := closedStore(t)
	if err := os.Remove(filepath.Join(dir, store.RecordFile)); err != nil {
		t.Fatal(err)
	}
	s := openBolt(t, dir)
	if got := s.Record().StoreID; got != rec.StoreID {
		t.Errorf("adopted store id = %s, want the database's %s", got, rec.StoreID)
	}
	if v, err := s.GetSecret("ca/roots"); err != nil || string(v) != "the CA" {
		t.Errorf("secret after adoption = %q, %v", v, err)
	}
}

func TestBoltRecordCA(t *testing.T) {
	dir := t.TempDir()
	s := openBolt(t, dir)
	if err := s.RecordCA("example.org", []string{"aa", "bb"}); err != nil {
		t.Fatal(err)
	}
	got, err := store.ReadRecord(dir)
	if err != nil || got.TrustDomain != "example.org" || strings.Join(got.CAFingerprints, ",") != "aa,bb" || got.StoreID != s.Record().StoreID {
		t.Fatalf("record after RecordCA = %+v, %v", got, err)
	}
}

func TestReadRecordRefusesABrokenRecord(t *testing.T) {
	for name, content := range map[string]string{
		"not JSON":     "{",
		"no store id":  `{"version":1}`,
		"future build": `{"version":2,"storeId":"ab"}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, store.RecordFile), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := store.OpenBolt(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, store.RecordFile)) {
				t.Errorf("OpenBolt error = %v, want one naming the record", err)
			}
			if _, err := os.Stat(filepath.Join(dir, store.DBFile)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused open made the database: %v", err)
			}
		})
	}
}

func FuzzReadRecord(f *testing.F) {
	f.Add([]byte(`{"version":1,"storeId":"0123","createdAt":"2026-12-07T00:00:00Z","trustDomain":"example.org","caFingerprints":["ab"]}`))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"storeId":""}`))
	f.Add([]byte(`[]`))
	f.Add([]byte{0xff, 0x00})
	f.Fuzz(func(t *testing.T, raw []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, store.RecordFile), raw, 0o600); err != nil {
			t.Fatal(err)
		}
		rec, err := store.ReadRecord(dir)
		if err != nil {
			if rec != nil || !strings.Contains(err.Error(), store.RecordFile) {
				t.Fatalf("ReadRecord = %+v, %v: an error must come alone and name the file", rec, err)
			}
			return
		}
		if rec == nil || rec.StoreID == "" || rec.Version != 1 {
			t.Fatalf("ReadRecord accepted %q as %+v", raw, rec)
		}
	})
}
