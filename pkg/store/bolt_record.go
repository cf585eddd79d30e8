package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// keyStoreID names the database's id in the meta bucket; the data dir's
// record carries the same id.
var keyStoreID = []byte("store-id")

// ErrNotThisStore is wrapped by OpenBolt when the data dir's record says
// it holds a store but its database is missing, empty or another store's:
// starting there would silently make a new store and a new CA.
var ErrNotThisStore = errors.New("the database is not the store this data dir holds")

// RestoreHint tells an operator how to put a lost store back.
const RestoreHint = "stop embassy-cp and restore the store from a backup (made with embassyctl backup -o FILE): " +
	"embassy-cp restore --data-dir %[1]s --from FILE --force; see docs/operations.md. " +
	"To start a new mesh instead, with a new CA that no agent trusts yet, move %[1]s away and start on an empty data dir"

// notThisStore is the error of an initialized data dir whose database
// cannot be the store it holds; what says why.
func notThisStore(dataDir string, rec *Record, what string) error {
	return &notThisStoreError{msg: fmt.Sprintf("data dir %s holds %s (says its record %s), but %s, so embassy-cp does not start on it: "+
		"a new store there would bring a new CA that no agent trusts. To restore: %s",
		dataDir, rec.describe(), RecordFile, what, fmt.Sprintf(RestoreHint, dataDir))}
}

// notThisStoreError is an error wrapping ErrNotThisStore whose message
// says the whole story.
type notThisStoreError struct{ msg string }

// Error returns the whole message.
func (e *notThisStoreError) Error() string { return e.msg }

// Is makes errors.Is(err, ErrNotThisStore) true.
func (e *notThisStoreError) Is(target error) bool { return target == ErrNotThisStore }

// checkDBFile refuses to open a database file that is missing or empty
// when the record says the dir holds a store: bbolt would make a new one.
func checkDBFile(dataDir, path string, rec *Record) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return notThisStore(dataDir, rec, "its database "+filepath.Base(path)+" is missing")
	case err != nil:
		return fmt.Errorf("database %s: %w", path, err)
	case fi.Size() == 0:
		return notThisStore(dataDir, rec, "its database "+filepath.Base(path)+" is empty (0 bytes)")
	}
	return nil
}

// checkStoreID refuses a database that holds no store, or another one,
// than the record says.
func checkStoreID(tx *bolt.Tx, dataDir string, rec *Record) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return notThisStore(dataDir, rec, "its database "+DBFile+" holds no Embassy store (no buckets)")
	}
	id := string(meta.Get(keyStoreID))
	switch {
	case id == "":
		return notThisStore(dataDir, rec, "its database "+DBFile+" carries no store id, so it is not that store")
	case id != rec.StoreID:
		return notThisStore(dataDir, rec, "its database "+DBFile+" is store "+id+", from another data dir")
	}
	return nil
}

// ensureStoreID returns the database's id, giving it a new one when it has
// none (a new database, or one made before databases carried ids).
func ensureStoreID(tx *bolt.Tx) (string, error) {
	meta := tx.Bucket(bucketMeta)
	if id := meta.Get(keyStoreID); len(id) > 0 {
		return string(id), nil
	}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("make a store id: %w", err)
	}
	id := hex.EncodeToString(raw)
	if err := meta.Put(keyStoreID, []byte(id)); err != nil {
		return "", fmt.Errorf("store the store id: %w", err)
	}
	return id, nil
}

// adoptRecord writes the record of a data dir that had none, for the
// database's id.
func adoptRecord(dataDir, id string) (*Record, error) {
	rec := Record{StoreID: id, CreatedAt: time.Now().UTC()}
	if err := WriteRecord(dataDir, rec); err != nil {
		return nil, err
	}
	rec.Version = recordVersion
	return &rec, nil
}

// Record returns the data dir's record.
func (b *Bolt) Record() Record {
	b.recMu.Lock()
	defer b.recMu.Unlock()
	return b.rec
}

// RecordCA writes the builtin CA's trust domain and root fingerprints
// into the data dir's record, so that a later start can tell the CA was
// lost; it writes nothing when the record already says them.
func (b *Bolt) RecordCA(trustDomain string, fingerprints []string) error {
	b.recMu.Lock()
	defer b.recMu.Unlock()
	if b.rec.sameCA(trustDomain, fingerprints) {
		return nil
	}
	next := b.rec
	next.TrustDomain, next.CAFingerprints = trustDomain, append([]string(nil), fingerprints...)
	if err := WriteRecord(b.dataDir, next); err != nil {
		return err
	}
	b.rec = next
	return nil
}
