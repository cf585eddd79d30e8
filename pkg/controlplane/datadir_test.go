package controlplane

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"embassy.dev/embassy/internal/syncbuf"
	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/client"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
)

// secretsBucket is the bbolt bucket of the store's secrets, which tests
// edit behind the store's back as a careless operator's tool would.
const secretsBucket = "secrets"

// editSecrets runs edit on the closed store of dir's secrets bucket.
func editSecrets(t *testing.T, dir string, edit func(b *bolt.Bucket) error) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, store.DBFile), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return edit(tx.Bucket([]byte(secretsBucket))) }); err != nil {
		t.Fatal(err)
	}
}

// rootFingerprints are the fingerprints of the CA's roots, oldest first.
func rootFingerprints(ca *identity.CA) []string {
	var out []string
	for _, r := range ca.Roots() {
		out = append(out, r.Fingerprint)
	}
	return out
}

func TestStartRecordsTheCAAndNeverMakesANewOneInItsPlace(t *testing.T) {
	dir := t.TempDir()
	logs := &syncbuf.Buffer{}
	cp := startCP(t, dir, logs, withTrustDomain("example.org"))
	fps := rootFingerprints(cp.CA())
	cp.Close()
	if !strings.Contains(logs.String(), "mesh CA created") || strings.Contains(logs.String(), "mesh CA loaded") {
		t.Errorf("a new data dir's CA is not logged as created:\n%s", logs)
	}
	rec, err := store.ReadRecord(dir)
	if err != nil || rec.TrustDomain != "example.org" || strings.Join(rec.CAFingerprints, ",") != strings.Join(fps, ",") {
		t.Fatalf("record = %+v, %v; want trust domain example.org and roots %v", rec, err, fps)
	}

	logs = &syncbuf.Buffer{}
	startCP(t, dir, logs).Close()
	if !strings.Contains(logs.String(), "mesh CA loaded") || strings.Contains(logs.String(), "mesh CA created") {
		t.Errorf("a restart does not log the CA as loaded:\n%s", logs)
	}

	// The CA's state is lost from a database that is otherwise whole.
	editSecrets(t, dir, func(b *bolt.Bucket) error { return b.Delete([]byte(identity.SecretRoots)) })
	logs = &syncbuf.Buffer{}
	_, err = startCPErr(dir, func(c *Config) { c.Logger = nil; c.Out = logs })
	for _, want := range []string{"had a mesh CA for trust domain example.org", fps[0], "embassy-cp restore --data-dir " + dir} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("start without the recorded CA: error %v, want one with %q", err, want)
		}
	}
	editSecrets(t, dir, func(b *bolt.Bucket) error {
		if b.Get([]byte(identity.SecretRoots)) != nil {
			t.Error("the refused start stored a new CA")
		}
		return nil
	})
}

func TestStartRefusesAnEmptiedDatabase(t *testing.T) {
	dir := t.TempDir()
	startCP(t, dir, &syncbuf.Buffer{}, withTrustDomain("example.org")).Close()
	db := filepath.Join(dir, store.DBFile)
	if err := os.Truncate(db, 0); err != nil {
		t.Fatal(err)
	}
	_, err := startCPErr(dir)
	if !errors.Is(err, store.ErrNotThisStore) || !strings.Contains(err.Error(), "is empty (0 bytes)") || !strings.Contains(err.Error(), "trust domain example.org") {
		t.Fatalf("start on an emptied database: %v", err)
	}
	if fi, err := os.Stat(db); err != nil || fi.Size() != 0 {
		t.Errorf("the refused start wrote the database: %v, %v", fi, err)
	}
}

func TestStartRefusesTheCAOfAnotherStore(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	startCP(t, dir, &syncbuf.Buffer{}).Close()
	startCP(t, other, &syncbuf.Buffer{}).Close()
	var foreign []byte
	editSecrets(t, other, func(b *bolt.Bucket) error {
		foreign = append([]byte{}, b.Get([]byte(identity.SecretRoots))...)
		return nil
	})
	editSecrets(t, dir, func(b *bolt.Bucket) error { return b.Put([]byte(identity.SecretRoots), foreign) })
	if _, err := startCPErr(dir); err == nil || !strings.Contains(err.Error(), "is not the one its record "+store.RecordFile+" names") {
		t.Fatalf("start with another store's CA: %v", err)
	}
}

func TestRotationRecordsTheNewRoot(t *testing.T) {
	dir := t.TempDir()
	cp := startCP(t, dir, &syncbuf.Buffer{})
	defer cp.Close()
	if _, err := cp.rotateCA(); err != nil {
		t.Fatal(err)
	}
	rec, err := store.ReadRecord(dir)
	if err != nil || len(rec.CAFingerprints) != 2 || strings.Join(rec.CAFingerprints, ",") != strings.Join(rootFingerprints(cp.CA()), ",") {
		t.Fatalf("record after a rotation = %+v, %v; want both roots %v", rec, err, rootFingerprints(cp.CA()))
	}
}

func TestBackupRestoreKeepsTheCATokensAndResources(t *testing.T) {
	dir := t.TempDir()
	cp := startCP(t, dir, &syncbuf.Buffer{}, withTrustDomain("example.org"))
	applyYAML(t, cp, meshExampleOrg)
	_, tok, err := cp.Tokens().Create("default", "web", "", time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	fps := rootFingerprints(cp.CA())
	admin, _, _, err := api.EnsureAdminToken(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := client.New("http://"+cp.APIAddr(), admin).Backup(ctx, f)
	f.Close()
	if err != nil || info.StoreID != cp.Store().(*store.Bolt).Record().StoreID {
		t.Fatalf("Backup = %+v, %v", info, err)
	}
	// A read token may not take the CA's keys.
	var ce *client.Error
	if _, err := client.New("http://"+cp.APIAddr(), cp.obs.readToken).Backup(ctx, new(strings.Builder)); !errors.As(err, &ce) || ce.StatusCode != 403 {
		t.Errorf("backup with the read token: %v, want 403", err)
	}
	cp.Close()

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	_, rec, err := Restore(dir, file, false)
	if err != nil || rec.StoreID != info.StoreID || strings.Join(rec.CAFingerprints, ",") != strings.Join(fps, ",") {
		t.Fatalf("Restore = %+v, %v; want store %s with roots %v", rec, err, info.StoreID, fps)
	}
	cp = startCP(t, dir, &syncbuf.Buffer{})
	defer cp.Close()
	if got := rootFingerprints(cp.CA()); strings.Join(got, ",") != strings.Join(fps, ",") || cp.CA().TrustDomain().Name() != "example.org" {
		t.Errorf("restored CA = %s %v, want example.org %v", cp.CA().TrustDomain().Name(), got, fps)
	}
	if ids := cp.Tokens().List(); len(ids) != 1 || ids[0].ID != tok.ID {
		t.Errorf("restored tokens = %+v, want %s", ids, tok.ID)
	}
	if _, err := cp.Store().Get(context.Background(), resource.Key{Kind: resource.KindMesh, Name: "mesh"}); err != nil {
		t.Errorf("restored Mesh: %v", err)
	}
}
