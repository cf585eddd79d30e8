package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"embassy.dev/embassy/pkg/resource"
)

// DBFile is the name of the database file inside the data dir.
const DBFile = "embassy.db"

// lockTimeout bounds the wait for the database file's lock: long enough to
// ride out a restarting predecessor, short enough to fail fast when a
// second control plane points at the same data dir.
const lockTimeout = time.Second

// Bucket and key names of the database layout. Resources are keyed by
// Key.String() and hold the resource's JSON; the revision lives in meta
// and is written in the same transaction as the resources it counts.
var (
	bucketResources = []byte("resources")
	bucketMeta      = []byte("meta")
	bucketSecrets   = []byte("secrets")
	keyRevision     = []byte("revision")
)

// errNoChange rolls back a write transaction that would change nothing, so
// a no-op commit costs no disk write.
var errNoChange = errors.New("no change")

// Bolt is the embedded Store, one bbolt file in the data dir. It is safe
// for concurrent use.
type Bolt struct {
	db      *bolt.DB
	path    string
	dataDir string

	// recMu guards rec, the data dir's record, and its file.
	recMu sync.Mutex
	rec   Record

	// closeMu is held for reading by every call and for writing by Close,
	// so Close waits for calls in flight and later calls see closed.
	closeMu sync.RWMutex
	closed  bool
	// commitMu orders commits so that the cached revision and watcher
	// notifications follow the order of the transactions.
	commitMu sync.Mutex
	rev      atomic.Int64
	hub      hub
	// shared keeps what ListShared decoded.
	shared sharedDecodes[string]
}

var (
	_ Store   = (*Bolt)(nil)
	_ Secrets = (*Bolt)(nil)
)

// OpenBolt opens (creating when missing) the store in dataDir: the dir
// with mode 0700 and the file DBFile in it with mode 0600, and the dir's
// RecordFile. It fails with an error wrapping ErrLocked when another
// process holds the database, and with one wrapping ErrNotThisStore when
// the record says the dir holds a store that its database is not.
func OpenBolt(dataDir string) (*Bolt, error) {
	if dataDir == "" {
		return nil, errors.New("data dir is empty: pass --data-dir")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w: check the parent's permissions or pick another --data-dir", dataDir, err)
	}
	rec, err := ReadRecord(dataDir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dataDir, DBFile)
	if rec != nil {
		if err := checkDBFile(dataDir, path, rec); err != nil {
			return nil, err
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("data dir %s is in use by another embassy-cp (%w): stop it or pick another --data-dir", dataDir, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	b, err := prepareBolt(db, dataDir, rec)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return b, nil
}

// prepareBolt checks db against the record (when the dir has one), makes
// its buckets and id, and writes the record of a dir that had none.
func prepareBolt(db *bolt.DB, dataDir string, rec *Record) (*Bolt, error) {
	var rev int64
	var id string
	err := db.Update(func(tx *bolt.Tx) error {
		if rec != nil {
			if err := checkStoreID(tx, dataDir, rec); err != nil {
				return err
			}
		}
		for _, name := range [][]byte{bucketResources, bucketMeta, bucketSecrets} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		var err error
		if id, err = ensureStoreID(tx); err != nil {
			return err
		}
		rev, err = readRevision(tx)
		return err
	})
	if errors.Is(err, ErrNotThisStore) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("prepare database %s: %w", db.Path(), err)
	}
	if rec == nil {
		if rec, err = adoptRecord(dataDir, id); err != nil {
			return nil, err
		}
	}
	b := &Bolt{db: db, path: db.Path(), dataDir: dataDir, rec: *rec}
	b.rev.Store(rev)
	return b, nil
}

// readRevision returns the stored revision, 0 for a new database.
func readRevision(tx *bolt.Tx) (int64, error) {
	v := tx.Bucket(bucketMeta).Get(keyRevision)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("stored revision has %d bytes, want 8: the database is corrupt, restore it from a backup", len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// Path returns the database file's path.
func (b *Bolt) Path() string { return b.path }

// Commit applies ops in one bbolt transaction, together with the revision
// bump, and returns the revision after it; on error nothing is written
// and it returns the unchanged revision.
func (b *Bolt) Commit(ctx context.Context, ops []Op) (int64, error) {
	if err := ctx.Err(); err != nil {
		return b.Revision(), err
	}
	enc, err := prepareOps(ops)
	if err != nil {
		return b.Revision(), err
	}
	b.closeMu.RLock()
	defer b.closeMu.RUnlock()
	if b.closed {
		return b.rev.Load(), ErrClosed
	}
	b.commitMu.Lock()
	defer b.commitMu.Unlock()
	var rev int64
	err = b.db.Update(func(tx *bolt.Tx) error {
		res := tx.Bucket(bucketResources)
		writes, err := stage(enc, func(k resource.Key) ([]byte, bool) {
			v := res.Get([]byte(k.String()))
			return v, v != nil
		})
		if err != nil {
			return err
		}
		if len(writes) == 0 {
			return errNoChange
		}
		for _, w := range writes {
			if w.value == nil {
				err = res.Delete([]byte(w.key.String()))
			} else {
				err = res.Put([]byte(w.key.String()), w.value)
			}
			if err != nil {
				return fmt.Errorf("write %s: %w", w.key, err)
			}
		}
		if rev, err = readRevision(tx); err != nil {
			return err
		}
		rev++
		return tx.Bucket(bucketMeta).Put(keyRevision, binary.BigEndian.AppendUint64(nil, uint64(rev)))
	})
	if errors.Is(err, errNoChange) {
		return b.rev.Load(), nil
	}
	if err != nil {
		return b.rev.Load(), err
	}
	b.rev.Store(rev)
	b.hub.notify(rev)
	return rev, nil
}

// Get returns a fresh copy of one resource, or an error wrapping
// ErrNotFound.
func (b *Bolt) Get(ctx context.Context, key resource.Key) (*resource.Resource, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.closeMu.RLock()
	defer b.closeMu.RUnlock()
	if b.closed {
		return nil, ErrClosed
	}
	var r *resource.Resource
	err := b.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketResources).Get([]byte(key.String()))
		if v == nil {
			return notFound(key)
		}
		var err error
		r, err = decode(key.String(), v)
		return err
	})
	return r, err
}

// List returns fresh copies of every resource of kind (all when ""),
// sorted by key, and the revision of the same transaction.
func (b *Bolt) List(ctx context.Context, kind resource.Kind) ([]*resource.Resource, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	b.closeMu.RLock()
	defer b.closeMu.RUnlock()
	if b.closed {
		return nil, 0, ErrClosed
	}
	out := []*resource.Resource{}
	var rev int64
	err := b.db.View(func(tx *bolt.Tx) error {
		var err error
		if rev, err = readRevision(tx); err != nil {
			return err
		}
		// Every key starts with its kind and a slash, so the prefix
		// selects exactly one kind.
		var prefix []byte
		if kind != "" {
			prefix = []byte(string(kind) + "/")
		}
		c := tx.Bucket(bucketResources).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			r, err := decode(string(k), v)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	sortResources(out)
	return out, rev, nil
}

// ListShared returns every resource and the revision of the same
// transaction, decoding only the values new or changed since its
// previous call; see Store.ListShared.
func (b *Bolt) ListShared(ctx context.Context) ([]*resource.Resource, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	b.closeMu.RLock()
	defer b.closeMu.RUnlock()
	if b.closed {
		return nil, 0, ErrClosed
	}
	var (
		out []*resource.Resource
		rev int64
	)
	err := b.db.View(func(tx *bolt.Tx) error {
		var err error
		if rev, err = readRevision(tx); err != nil {
			return err
		}
		out, err = b.shared.list(keyName, func(add func(string, []byte) error) error {
			return tx.Bucket(bucketResources).ForEach(func(k, v []byte) error { return add(string(k), v) })
		})
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return out, rev, nil
}

// Revision returns the current revision.
func (b *Bolt) Revision() int64 { return b.rev.Load() }

// Watch returns a channel of new revisions; see Store.Watch.
func (b *Bolt) Watch(ctx context.Context) <-chan int64 { return b.hub.watch(ctx) }

// Ready returns ErrClosed after Close, else nil: a local file is always
// there.
func (b *Bolt) Ready(context.Context) error {
	b.closeMu.RLock()
	defer b.closeMu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	return nil
}

// Kind returns "bbolt".
func (b *Bolt) Kind() string { return "bbolt" }

// Close ends every watcher and releases the database file and its lock.
// Later calls return ErrClosed; a second Close returns nil.
func (b *Bolt) Close() error {
	b.closeMu.Lock()
	defer b.closeMu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	b.hub.close()
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("close database %s: %w", b.path, err)
	}
	return nil
}
