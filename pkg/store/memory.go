package store

import (
	"context"
	"sync"

	"embassy.dev/embassy/pkg/resource"
)

// Memory is a Store kept in process memory, for tests. Values are kept as
// JSON so that it shares Bolt's no-op detection and every read but
// ListShared returns a fresh copy.
type Memory struct {
	mu      sync.RWMutex
	closed  bool
	rev     int64
	data    map[resource.Key][]byte
	secrets map[string][]byte
	hub     hub
	shared  sharedDecodes[resource.Key]
}

var (
	_ Store   = (*Memory)(nil)
	_ Secrets = (*Memory)(nil)
)

// NewMemory returns an empty in-memory store at revision 0.
func NewMemory() *Memory {
	return &Memory{data: make(map[resource.Key][]byte), secrets: make(map[string][]byte)}
}

// Commit applies ops atomically and returns the revision after it; on
// error nothing is written and it returns the unchanged revision.
func (m *Memory) Commit(ctx context.Context, ops []Op) (int64, error) {
	if err := ctx.Err(); err != nil {
		return m.Revision(), err
	}
	enc, err := prepareOps(ops)
	if err != nil {
		return m.Revision(), err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return m.rev, ErrClosed
	}
	writes, err := stage(enc, func(k resource.Key) ([]byte, bool) {
		v, ok := m.data[k]
		return v, ok
	})
	if err != nil {
		return m.rev, err
	}
	if len(writes) == 0 {
		return m.rev, nil
	}
	for _, w := range writes {
		if w.value == nil {
			delete(m.data, w.key)
		} else {
			m.data[w.key] = w.value
		}
	}
	m.rev++
	// Notifying under the lock keeps watchers' revisions in commit order.
	m.hub.notify(m.rev)
	return m.rev, nil
}

// Get returns a fresh copy of one resource, or an error wrapping
// ErrNotFound.
func (m *Memory) Get(ctx context.Context, key resource.Key) (*resource.Resource, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	b, ok := m.data[key]
	if !ok {
		return nil, notFound(key)
	}
	return decode(key.String(), b)
}

// List returns fresh copies of every resource of kind (all when ""),
// sorted by key, and the revision they were read at.
func (m *Memory) List(ctx context.Context, kind resource.Kind) ([]*resource.Resource, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, 0, ErrClosed
	}
	out := []*resource.Resource{}
	for k, b := range m.data {
		if kind != "" && k.Kind != kind {
			continue
		}
		r, err := decode(k.String(), b)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	sortResources(out)
	return out, m.rev, nil
}

// ListShared returns every resource, decoding only the values new or
// changed since its previous call; see Store.ListShared.
func (m *Memory) ListShared(ctx context.Context) ([]*resource.Resource, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, 0, ErrClosed
	}
	out, err := m.shared.list(resource.Key.String, func(add func(resource.Key, []byte) error) error {
		for k, b := range m.data {
			if err := add(k, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, m.rev, nil
}

// Revision returns the current revision.
func (m *Memory) Revision() int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.rev
}

// Watch returns a channel of new revisions; see Store.Watch.
func (m *Memory) Watch(ctx context.Context) <-chan int64 { return m.hub.watch(ctx) }

// Ready returns ErrClosed after Close, else nil.
func (m *Memory) Ready(context.Context) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	return nil
}

// Kind returns "memory".
func (m *Memory) Kind() string { return "memory" }

// Close ends every watcher; later calls return ErrClosed.
func (m *Memory) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.hub.close()
	return nil
}
