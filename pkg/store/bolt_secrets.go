package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// GetSecret returns a copy of the named secret, or an error wrapping
// ErrNotFound.
func (b *Bolt) GetSecret(name string) ([]byte, error) {
	if err := checkSecretName(name); err != nil {
		return nil, err
	}
	b.closeMu.RLock()
	defer b.closeMu.RUnlock()
	if b.closed {
		return nil, ErrClosed
	}
	var out []byte
	err := b.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSecrets).Get([]byte(name))
		if v == nil {
			return fmt.Errorf("secret %q: %w", name, ErrNotFound)
		}
		// bbolt's slices are only valid inside the transaction.
		out = append([]byte{}, v...)
		return nil
	})
	return out, err
}

// PutSecret stores value under name in its own bucket, outside the
// resource revision.
func (b *Bolt) PutSecret(name string, value []byte) error {
	if err := checkSecretName(name); err != nil {
		return err
	}
	b.closeMu.RLock()
	defer b.closeMu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		// Put keeps a reference until commit; copy so callers may reuse
		// their slice at once, and so an empty value is stored, not nil.
		if err := tx.Bucket(bucketSecrets).Put([]byte(name), append([]byte{}, value...)); err != nil {
			return fmt.Errorf("put secret %q: %w", name, err)
		}
		return nil
	})
}

// SwapSecret stores value under name if the secret still holds old (nil:
// if it is absent), in one bbolt transaction.
func (b *Bolt) SwapSecret(name string, old, value []byte) error {
	if err := checkSecretName(name); err != nil {
		return err
	}
	b.closeMu.RLock()
	defer b.closeMu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketSecrets)
		cur := bk.Get([]byte(name))
		if (cur != nil) != (old != nil) || (cur != nil && !bytes.Equal(cur, old)) {
			return secretChanged(name, old)
		}
		if err := bk.Put([]byte(name), append([]byte{}, value...)); err != nil {
			return fmt.Errorf("put secret %q: %w", name, err)
		}
		return nil
	})
}
