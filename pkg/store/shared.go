package store

import (
	"bytes"
	"sync"

	"embassy.dev/embassy/pkg/resource"
)

// sharedDecodes keeps what one store's ListShared decoded, each resource
// with the stored value it came from. A later ListShared decodes only the
// values that are new or differ from the kept ones and returns the kept
// *resource.Resource for the rest, so that a publish costs the decoding
// of what changed rather than of the whole store.
//
// Entries are keyed by the stored bytes, not by a revision: a value is
// the same resource exactly when its bytes are, whichever store, replica,
// compaction or restart it was read through.
type sharedDecodes struct {
	// mu is held for a whole pass, so that two passes do not sweep each
	// other's entries.
	mu      sync.Mutex
	entries map[string]*sharedEntry
	// pass numbers the passes; an entry not seen in the latest is swept.
	pass uint64
	// decoded counts the values decoded, for tests.
	decoded int
}

// sharedEntry is one kept resource and the stored value it came from.
type sharedEntry struct {
	value []byte
	r     *resource.Resource
	seen  uint64
}

// list runs one pass: each must call add with every stored value, under
// whatever read of the store makes them one revision. It returns the
// resources sorted by key, and forgets the entries of keys each did not
// add. On error the kept entries stay as they were, less any swept.
func (s *sharedDecodes) list(each func(add func(key string, value []byte) error) error) ([]*resource.Resource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries == nil {
		s.entries = map[string]*sharedEntry{}
	}
	s.pass++
	out := make([]*resource.Resource, 0, len(s.entries))
	add := func(key string, value []byte) error {
		e := s.entries[key]
		if e == nil || !bytes.Equal(e.value, value) {
			r, err := decode(key, value)
			if err != nil {
				return err
			}
			s.decoded++
			// The value may be a read transaction's memory (bbolt's
			// mmap): keep a copy that outlives it.
			e = &sharedEntry{value: bytes.Clone(value), r: r}
			s.entries[key] = e
		}
		e.seen = s.pass
		out = append(out, e.r)
		return nil
	}
	if err := each(add); err != nil {
		return nil, err
	}
	for k, e := range s.entries {
		if e.seen != s.pass {
			delete(s.entries, k)
		}
	}
	sortResources(out)
	return out, nil
}

// decodes returns how many values the passes decoded so far.
func (s *sharedDecodes) decodes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.decoded
}
