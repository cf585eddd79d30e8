package service

import (
	"context"
	"sync"
	"time"
)

// Leases keeps the leases of agent registrations: a registered Workload
// lives while its lease does, and the sweep removes it once the lease
// has ended. The etcd store implements it with etcd leases, so that
// control planes sharing the store share the leases and a control
// plane's death ends none of them early; a control plane alone on its
// store keeps them in memory (NewMemoryLeases).
type Leases interface {
	// GrantLease keeps name alive for ttl from now, replacing any lease
	// it had.
	GrantLease(ctx context.Context, name string, ttl time.Duration) error
	// LiveLeases returns the names whose lease has not ended.
	LiveLeases(ctx context.Context) (map[string]bool, error)
	// DropLease ends name's lease at once.
	DropLease(ctx context.Context, name string) error
}

// memoryLeases are leases in this process's memory: they end with it, and
// a restarted control plane grants every registration it finds a fresh one.
type memoryLeases struct {
	now func() time.Time

	mu      sync.Mutex
	expires map[string]time.Time
}

// NewMemoryLeases returns leases kept in memory, timed by now.
func NewMemoryLeases(now func() time.Time) Leases {
	return &memoryLeases{now: now, expires: map[string]time.Time{}}
}

func (m *memoryLeases) GrantLease(_ context.Context, name string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expires[name] = m.now().Add(ttl)
	return nil
}

func (m *memoryLeases) LiveLeases(context.Context) (map[string]bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	live := make(map[string]bool, len(m.expires))
	for name, exp := range m.expires {
		if now.Before(exp) {
			live[name] = true
		} else {
			delete(m.expires, name)
		}
	}
	return live, nil
}

func (m *memoryLeases) DropLease(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.expires, name)
	return nil
}
