package store

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RestoreEtcd makes the backup at from (made by embassyctl backup of
// either store) the store under cfg's prefix, in one atomic commit, so
// that running control planes see the old store or the new one, never a
// mix. It refuses a file that is not a backup and, unless force is set, a
// prefix that already holds a store; a replaced store is first backed up
// beside from (FROM.replaced-TIME), never lost. The revision after it is
// the backup's, or one past the replaced store's when that is higher, so
// revisions never go back.
func RestoreEtcd(ctx context.Context, cfg EtcdConfig, from string, force bool) (RestoreResult, error) {
	info, err := InspectBackup(from)
	if err != nil {
		return RestoreResult{}, err
	}
	res, secs, err := readBackup(from)
	if err != nil {
		return RestoreResult{}, err
	}
	e, err := OpenEtcd(ctx, cfg)
	if err != nil {
		return RestoreResult{}, err
	}
	defer e.Close()
	out := RestoreResult{Backup: info}
	st, err := e.readAll(ctx, "restore")
	if err != nil {
		return out, err
	}
	if len(st.values) > 0 || st.rev > 0 {
		if !force {
			return out, fmt.Errorf("etcd prefix %s already holds store %s at revision %d; restoring replaces it: pass --force to restore anyway "+
				"(a backup of it is written beside %s first)", e.keys.prefix, e.id, st.rev, from)
		}
		if out.Aside, err = e.setAside(from); err != nil {
			return out, err
		}
	}
	return out, e.replaceAll(ctx, info, res, secs)
}

// readBackup returns a backup's resources (by Key.String()) and secrets.
func readBackup(path string) (res, secs map[string][]byte, err error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if err != nil {
		return nil, nil, fmt.Errorf("backup %s: %w", path, err)
	}
	defer db.Close()
	res, secs = map[string][]byte{}, map[string][]byte{}
	err = db.View(func(tx *bolt.Tx) error {
		for name, into := range map[string]map[string][]byte{string(bucketResources): res, string(bucketSecrets): secs} {
			b := tx.Bucket([]byte(name))
			if b == nil {
				continue
			}
			if err := b.ForEach(func(k, v []byte) error {
				into[string(k)] = append([]byte{}, v...)
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("backup %s: %w", path, err)
	}
	for k, v := range res {
		if _, err := decode(k, v); err != nil {
			return nil, nil, fmt.Errorf("backup %s: %w", path, err)
		}
	}
	return res, secs, nil
}

// setAside backs up the store about to be replaced beside from.
func (e *Etcd) setAside(from string) (string, error) {
	aside := asideName(from, time.Now())
	f, err := os.OpenFile(aside, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", fmt.Errorf("back up the store being replaced to %s: %w", aside, err)
	}
	_, err = e.Backup(func(BackupInfo) (io.Writer, error) { return f, nil })
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(aside)
		return "", fmt.Errorf("back up the store being replaced to %s: %w", aside, err)
	}
	return aside, nil
}

// replaceAll makes res and secs the whole store, with the backup's id, in
// one commit.
func (e *Etcd) replaceAll(ctx context.Context, info BackupInfo, res, secs map[string][]byte) error {
	for range commitAttempts {
		st, err := e.readAll(ctx, "restore")
		if err != nil {
			return err
		}
		if st.intent != nil {
			if err := e.rollForward(ctx, st.intent, st.intentMod); err != nil {
				return err
			}
			continue
		}
		want := map[string][]byte{strings.TrimPrefix(e.keys.storeID(), e.keys.prefix): []byte(info.StoreID)}
		for k, v := range res {
			want[etcdResPrefix+k] = v
		}
		for k, v := range secs {
			want[etcdSecPrefix+k] = v
		}
		var ws []etcdWrite
		for full := range st.values {
			if k := strings.TrimPrefix(full, e.keys.prefix); want[k] == nil {
				ws = append(ws, etcdWrite{K: k, Del: true})
			}
		}
		for k, v := range want {
			ws = append(ws, etcdWrite{K: k, V: v})
		}
		_, ok, err := e.commitWrites(ctx, st, ws, max(info.Revision, st.rev+1))
		if err != nil || ok {
			return err
		}
	}
	return fmt.Errorf("restore: lost %d times in a row to other control planes' commits: stop them and restore again", commitAttempts)
}
