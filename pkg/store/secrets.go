package store

import (
	"bytes"
	"errors"
	"fmt"
)

// Secrets stores opaque named blobs outside the resource revision: control
// plane state such as the admin token or the CA key, which is not a
// resource. Writing a secret never bumps the revision, never notifies
// watchers, and secrets never appear in List.
type Secrets interface {
	// GetSecret returns a copy of the named blob, or an error wrapping
	// ErrNotFound.
	GetSecret(name string) ([]byte, error)
	// PutSecret stores value under name, replacing any previous value.
	PutSecret(name string, value []byte) error
	// SwapSecret stores value under name only if the secret still holds
	// old, or, when old is nil, only if no secret has that name; otherwise
	// it changes nothing and returns an error wrapping ErrSecretChanged.
	// Control planes sharing one store update a secret with it, so that
	// none loses another's update (a single-use join token is redeemed
	// once, the CA is created once).
	SwapSecret(name string, old, value []byte) error
}

// ErrSecretChanged is wrapped by SwapSecret when the secret no longer
// holds what the caller read: read it again and redo the change.
var ErrSecretChanged = errors.New("secret was changed by another writer")

// secretChanged is SwapSecret's refusal, naming the secret.
func secretChanged(name string, old []byte) error {
	if old == nil {
		return fmt.Errorf("secret %q already exists: %w", name, ErrSecretChanged)
	}
	return fmt.Errorf("secret %q: %w", name, ErrSecretChanged)
}

// checkSecretName refuses the empty name, which no caller means.
func checkSecretName(name string) error {
	if name == "" {
		return fmt.Errorf("secret name is empty: name the secret")
	}
	return nil
}

// GetSecret returns a copy of the named secret, or an error wrapping
// ErrNotFound.
func (m *Memory) GetSecret(name string) ([]byte, error) {
	if err := checkSecretName(name); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	v, ok := m.secrets[name]
	if !ok {
		return nil, fmt.Errorf("secret %q: %w", name, ErrNotFound)
	}
	return append([]byte{}, v...), nil
}

// PutSecret stores a copy of value under name.
func (m *Memory) PutSecret(name string, value []byte) error {
	if err := checkSecretName(name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.secrets[name] = append([]byte{}, value...)
	return nil
}

// SwapSecret stores a copy of value under name if the secret still holds
// old (nil: if it is absent).
func (m *Memory) SwapSecret(name string, old, value []byte) error {
	if err := checkSecretName(name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	cur, ok := m.secrets[name]
	if ok != (old != nil) || (ok && !bytes.Equal(cur, old)) {
		return secretChanged(name, old)
	}
	m.secrets[name] = append([]byte{}, value...)
	return nil
}
