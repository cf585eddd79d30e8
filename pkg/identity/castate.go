package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"embassy.dev/embassy/pkg/store"
)

// caSyncInterval is how stale a CA's roots may be when another control
// plane on the same store rotated them: well under the publish delay, so
// every replica publishes a new root long before it signs.
const caSyncInterval = time.Second

// syncLocked reads the stored roots and adopts them when another control
// plane changed them. c.mu is held.
func (c *CA) syncLocked(now time.Time) error {
	raw, err := c.sec.GetSecret(SecretRoots)
	if err != nil {
		return fmt.Errorf("read CA state %q: %w", SecretRoots, err)
	}
	c.syncedAt = now
	return c.adoptLocked(raw)
}

// adoptLocked makes raw, as read from the store, the CA's roots. c.mu is
// held.
func (c *CA) adoptLocked(raw []byte) error {
	if c.raw != nil && bytes.Equal(raw, c.raw) {
		return nil
	}
	roots, err := c.decodeState(raw)
	if err != nil {
		return err
	}
	c.roots, c.raw = roots, raw
	return nil
}

// syncIfStaleLocked rereads the stored roots in the background at most
// once per caSyncInterval. No caller waits for the store: one that does
// not answer (etcd down, this replica cut off) leaves the roots as last
// read, and the CA goes on serving its bundle and signing with them.
// c.mu is held.
func (c *CA) syncIfStaleLocked(now time.Time) {
	if c.provided || c.syncing || (now.Sub(c.syncedAt) < caSyncInterval && !now.Before(c.syncedAt)) {
		return
	}
	c.syncing, c.syncedAt = true, now
	from := c.raw
	go func() {
		raw, err := c.sec.GetSecret(SecretRoots)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.syncing = false
		// A change stored here meanwhile is newer than what was read.
		if err == nil && bytes.Equal(c.raw, from) {
			_ = c.adoptLocked(raw)
		}
	}()
}

// decodeState checks and parses SecretRoots as stored.
func (c *CA) decodeState(raw []byte) ([]*root, error) {
	var st caState
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("CA state %q is not valid JSON: %v (restore it from a backup)", SecretRoots, err)
	}
	if st.Version != caStateVersion {
		return nil, fmt.Errorf("CA state %q has version %d, this build reads %d", SecretRoots, st.Version, caStateVersion)
	}
	if st.TrustDomain != c.td.Name() {
		return nil, fmt.Errorf("stored CA roots belong to trust domain %q, the config says %q: restore the trust domain, or delete secret %q to start a new trust domain", st.TrustDomain, c.td.Name(), SecretRoots)
	}
	if len(st.Roots) == 0 {
		return nil, fmt.Errorf("CA state %q holds no roots (restore it from a backup)", SecretRoots)
	}
	roots := make([]*root, 0, len(st.Roots))
	for i, rs := range st.Roots {
		r, err := parseRoot(rs)
		if err != nil {
			return nil, fmt.Errorf("CA state %q root %d: %w", SecretRoots, i, err)
		}
		roots = append(roots, r)
	}
	return roots, nil
}

// encodeStateLocked is the stored form of c.roots. c.mu is held.
func (c *CA) encodeStateLocked() ([]byte, error) {
	st := caState{Version: caStateVersion, TrustDomain: c.td.Name()}
	for _, r := range c.roots {
		st.Roots = append(st.Roots, r.st)
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode CA state: %w", err)
	}
	return raw, nil
}

// updateLocked lets change edit c.roots and stores them only if the store
// still holds the state they were read from. When another control plane
// wrote first (a rotation, a raised IssuedUntil) it reads the stored
// state and redoes the change over it, so no replica's change is lost.
// A failed change or store leaves c.roots as they were. c.mu is held.
func (c *CA) updateLocked(change func() error) error {
	for range MaxSwapTries {
		before := cloneRoots(c.roots)
		err := change()
		if err == nil {
			err = c.storeLocked()
		}
		if err == nil {
			return nil
		}
		c.roots = before
		if !errors.Is(err, store.ErrSecretChanged) {
			return err
		}
		if err := c.syncLocked(c.now()); err != nil {
			return err
		}
	}
	return fmt.Errorf("CA state %q was changed by other control planes on each of %d tries: try again", SecretRoots, MaxSwapTries)
}

// storeLocked swaps c.roots into the store over the state last read.
func (c *CA) storeLocked() error {
	raw, err := c.encodeStateLocked()
	if err != nil {
		return err
	}
	if err := c.sec.SwapSecret(SecretRoots, c.raw, raw); err != nil {
		return fmt.Errorf("store CA state %q: %w", SecretRoots, err)
	}
	c.raw = raw
	return nil
}

// cloneRoots copies the roots and their stored state, which changes edit
// in place.
func cloneRoots(roots []*root) []*root {
	out := make([]*root, len(roots))
	for i, r := range roots {
		cp := *r
		if r.st != nil {
			st := *r.st
			cp.st = &st
		}
		out[i] = &cp
	}
	return out
}
