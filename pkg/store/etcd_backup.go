package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	bolt "go.etcd.io/bbolt"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// An etcd store's backup is a bbolt file in the layout of the embedded
// store, so that one format serves both stores: embassyctl backup and
// InspectBackup work alike, and a store moves from one machine's bbolt to
// etcd (and back) by a backup and a restore.

// Backup writes a copy of the whole store, secrets included, as of one
// etcd revision (whole commits only); see (*Bolt).Backup for begin.
func (e *Etcd) Backup(begin func(BackupInfo) (io.Writer, error)) (int64, error) {
	release, err := e.enter()
	if err != nil {
		return 0, err
	}
	defer release()
	st, err := e.readAll(context.Background(), "back up")
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "embassy-backup-")
	if err != nil {
		return 0, fmt.Errorf("back up: %w", err)
	}
	// The copy holds the CA's key: it lives only as long as this call.
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, DBFile)
	if err := e.writeBoltCopy(path, st); err != nil {
		return 0, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if err != nil {
		return 0, fmt.Errorf("back up: %w", err)
	}
	defer db.Close()
	return copyDB(db, begin)
}

// readAll reads every resource and secret at one etcd revision.
func (e *Etcd) readAll(ctx context.Context, op string) (*etcdState, error) {
	return e.readState(ctx, op,
		clientv3.OpGet(e.keys.resources(""), clientv3.WithPrefix()),
		clientv3.OpGet(e.keys.secret(""), clientv3.WithPrefix()))
}

// writeBoltCopy writes st as a bbolt store at path.
func (e *Etcd) writeBoltCopy(path string, st *etcdState) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		return fmt.Errorf("back up: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		buckets := map[string]*bolt.Bucket{}
		for _, name := range [][]byte{bucketResources, bucketMeta, bucketSecrets} {
			b, err := tx.CreateBucket(name)
			if err != nil {
				return err
			}
			buckets[string(name)] = b
		}
		if err := buckets[string(bucketMeta)].Put(keyStoreID, []byte(e.id)); err != nil {
			return err
		}
		if err := buckets[string(bucketMeta)].Put(keyRevision, binary.BigEndian.AppendUint64(nil, uint64(st.rev))); err != nil {
			return err
		}
		for full, v := range st.values {
			if name, ok := e.keys.resourceName(full); ok {
				err = buckets[string(bucketResources)].Put([]byte(name), v)
			} else if name, ok := strings.CutPrefix(full, e.keys.secret("")); ok {
				err = buckets[string(bucketSecrets)].Put([]byte(name), append([]byte{}, v...))
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("back up: write the copy: %w", err)
	}
	return nil
}
