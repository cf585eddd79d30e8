package store

import (
	"errors"
	"fmt"
	"io"
	"os"

	bolt "go.etcd.io/bbolt"
)

// BackupInfo describes a backup: the store it copies and its size.
type BackupInfo struct {
	StoreID  string
	Revision int64
	// Size is the number of bytes of the copy.
	Size int64
}

// Backup writes a consistent copy of the whole database, secrets included,
// from one read transaction, while commits go on. begin is called first,
// with what the copy will be, and returns where to write it (so that an
// HTTP handler can set its headers); the copy is a bbolt file that
// RestoreBolt and OpenBolt accept. It returns the bytes written.
func (b *Bolt) Backup(begin func(BackupInfo) (io.Writer, error)) (int64, error) {
	b.closeMu.RLock()
	defer b.closeMu.RUnlock()
	if b.closed {
		return 0, ErrClosed
	}
	return copyDB(b.db, begin)
}

// copyDB writes a copy of db from one read transaction; see Backup.
func copyDB(db *bolt.DB, begin func(BackupInfo) (io.Writer, error)) (int64, error) {
	var n int64
	err := db.View(func(tx *bolt.Tx) error {
		info, err := describeTx(tx)
		if err != nil {
			return err
		}
		w, err := begin(info)
		if err != nil {
			return err
		}
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// describeTx says which store tx reads and how big its copy is.
func describeTx(tx *bolt.Tx) (BackupInfo, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil || len(meta.Get(keyStoreID)) == 0 {
		return BackupInfo{}, errors.New("the database holds no Embassy store (no meta bucket or store id)")
	}
	rev, err := readRevision(tx)
	if err != nil {
		return BackupInfo{}, err
	}
	return BackupInfo{StoreID: string(meta.Get(keyStoreID)), Revision: rev, Size: tx.Size()}, nil
}

// InspectBackup opens the bbolt file at path read-only and says which
// store it holds, refusing a file that is not a whole Embassy store.
func InspectBackup(path string) (BackupInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup %s: %w", path, err)
	}
	if fi.Size() == 0 {
		return BackupInfo{}, fmt.Errorf("backup %s is empty (0 bytes): it is not a backup made with embassyctl backup", path)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup %s is not a readable store (%v): use a file made with embassyctl backup", path, err)
	}
	defer db.Close()
	var info BackupInfo
	err = db.View(func(tx *bolt.Tx) error {
		info, err = describeTx(tx)
		return err
	})
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup %s: %w: use a file made with embassyctl backup", path, err)
	}
	return info, nil
}
