// Package store persists resources with a revision counter and lets the
// control plane watch for changes. Implementations: bbolt (the embedded
// default), etcd (shared by several control planes), memory (tests).
package store

import (
	"context"
	"errors"

	"embassy.dev/embassy/pkg/resource"
)

// ErrNotFound is returned by Get for a key that is not stored. Errors wrap
// it with the missing name, so test with errors.Is; a Commit that deletes a
// missing key and Secrets.GetSecret of a missing secret wrap it too.
var ErrNotFound = errors.New("not found")

// Op is one write in a transaction: a put of Resource, or a delete of Key
// when Resource is nil.
type Op struct {
	Key      resource.Key
	Resource *resource.Resource
}

// Store is a versioned set of resources. Every successful Commit that
// changes something increments the revision by exactly one; a Commit that
// changes nothing keeps it. Implementations must be safe for concurrent use.
type Store interface {
	// Commit applies every op atomically or none of them. It returns the
	// revision after the commit.
	Commit(ctx context.Context, ops []Op) (int64, error)
	// Get returns one resource, or ErrNotFound.
	Get(ctx context.Context, key resource.Key) (*resource.Resource, error)
	// List returns every resource of a kind (all kinds when kind is ""),
	// sorted by key, and the revision they were read at.
	List(ctx context.Context, kind resource.Kind) ([]*resource.Resource, int64, error)
	// ListShared returns every resource, sorted by key, and the revision
	// they were read at, as List(ctx, "") does; but a resource whose stored
	// value has not changed since the previous ListShared is the same
	// *resource.Resource as then, and only new or changed values are
	// decoded. Callers share what it returns with every other caller and
	// must never modify it.
	ListShared(ctx context.Context) ([]*resource.Resource, int64, error)
	// Revision returns the current revision (0 for an empty new store).
	Revision() int64
	// Watch returns a channel that receives the new revision after every
	// commit that changed something. The channel is buffered with size 1 and
	// coalesces: a slow reader sees the latest revision, not every one. A
	// store whose backing service was unavailable may send the current
	// revision again once it is back. It is closed when ctx is done or the
	// store is closed.
	Watch(ctx context.Context) <-chan int64
	// Ready returns nil when the store can take writes now, else why not:
	// ErrClosed, or an error wrapping ErrUnavailable naming what it could
	// not reach.
	Ready(ctx context.Context) error
	// Kind names the implementation ("bbolt", "memory", "etcd").
	Kind() string
	// Close releases the store.
	Close() error
}
