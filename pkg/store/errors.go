package store

import "errors"

// ErrClosed is returned by every call on a store after Close.
var ErrClosed = errors.New("store is closed")

// ErrLocked is wrapped by OpenBolt when another process holds the database
// file's lock, so callers can tell "in use" from "broken".
var ErrLocked = errors.New("database lock held")
