package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"embassy.dev/embassy/internal/atomicfile"
)

// RestoreResult says what RestoreBolt did.
type RestoreResult struct {
	Backup BackupInfo
	// Aside is where the replaced database was moved; "" when there was
	// none.
	Aside string
}

// RestoreBolt makes the backup at from the store of dataDir: it copies it
// to DBFile and writes the dir's record for it. It refuses a file that is
// not an Embassy store, a dir in use by a running embassy-cp, and, unless
// force is set, a dir that already holds a store; a replaced database is
// moved aside (DBFile.replaced-TIME), never deleted.
func RestoreBolt(dataDir, from string, force bool) (RestoreResult, error) {
	info, err := InspectBackup(from)
	if err != nil {
		return RestoreResult{}, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return RestoreResult{}, fmt.Errorf("create data dir %s: %w", dataDir, err)
	}
	path := filepath.Join(dataDir, DBFile)
	held, err := heldStore(dataDir, path)
	if err != nil {
		return RestoreResult{}, err
	}
	if held != "" && !force {
		return RestoreResult{}, fmt.Errorf("data dir %s already holds %s; restoring replaces it: pass --force to restore anyway "+
			"(its database is kept as %s.replaced-TIME)", dataDir, held, DBFile)
	}
	res := RestoreResult{Backup: info}
	if held != "" {
		if err := checkUnlocked(dataDir, path); err != nil {
			return RestoreResult{}, err
		}
		if res.Aside, err = moveAside(path); err != nil {
			return RestoreResult{}, err
		}
	}
	if err := copyBackup(from, path); err != nil {
		return RestoreResult{}, err
	}
	if err := WriteRecord(dataDir, Record{StoreID: info.StoreID, CreatedAt: time.Now().UTC()}); err != nil {
		return RestoreResult{}, err
	}
	return res, nil
}

// heldStore names what dataDir holds ("" for nothing): a record, or a
// database that is not empty.
func heldStore(dataDir, path string) (string, error) {
	rec, err := ReadRecord(dataDir)
	if err == nil && rec != nil {
		return rec.describe(), nil
	}
	fi, serr := os.Stat(path)
	switch {
	case serr == nil && fi.Size() > 0:
		return "a database (" + DBFile + ")", nil
	case err != nil:
		// An unreadable record still marks an initialized dir.
		return "a record (" + RecordFile + ") it cannot read", nil
	case serr != nil && !errors.Is(serr, os.ErrNotExist):
		return "", fmt.Errorf("database %s: %w", path, serr)
	}
	return "", nil
}

// checkUnlocked refuses to replace a database a running embassy-cp holds.
func checkUnlocked(dataDir, path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || (err == nil && fi.Size() == 0) {
		return nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return fmt.Errorf("data dir %s is in use by a running embassy-cp (%w): stop it, then restore", dataDir, ErrLocked)
	}
	if err != nil {
		// A corrupt database is what a restore is for.
		return nil
	}
	return db.Close()
}

// moveAside renames the database at path out of the way, if there is one.
func moveAside(path string) (string, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	aside := asideName(path, time.Now())
	// Rename would replace an earlier restore's; never lose one.
	if _, err := os.Lstat(aside); err == nil {
		return "", fmt.Errorf("%s exists: restore again in a moment", aside)
	}
	if err := os.Rename(path, aside); err != nil {
		return "", fmt.Errorf("move the replaced database aside: %w", err)
	}
	return aside, nil
}

// copyBackup copies the backup at from to path, mode 0600.
func copyBackup(from, path string) error {
	f, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("backup %s: %w", from, err)
	}
	defer f.Close()
	if _, err := atomicfile.Copy(path, f, 0o600, nil); err != nil {
		return fmt.Errorf("copy backup %s to %s: %w", from, path, err)
	}
	return nil
}

// asideTimeLayout formats the suffix of a database set aside by a restore.
const asideTimeLayout = "20060102T150405.000Z"

// asideName is where a restore moves the database it replaces.
func asideName(path string, now time.Time) string {
	return path + ".replaced-" + now.UTC().Format(asideTimeLayout)
}
