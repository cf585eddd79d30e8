package store

import (
	"bytes"
	"slices"
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
// compaction or restart it was read through. K is the key as the store
// holds it, so that reading it needs no new string.
type sharedDecodes[K comparable] struct {
	// mu is held for a whole pass, so that two passes do not sweep each
	// other's entries.
	mu      sync.Mutex
	entries map[K]*sharedEntry
	// order is every entry sorted by key while sorted is set: a pass
	// that only changes values keeps it, one that adds or drops an entry
	// sorts anew.
	order  []*sharedEntry
	sorted bool
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
// whatever read of the store makes them one revision; name renders a key
// for errors. It returns the resources sorted by key, and forgets the
// entries of keys each did not add. On error it returns the error and
// keeps the entries, those decoded by the pass included.
func (s *sharedDecodes[K]) list(name func(K) string, each func(add func(key K, value []byte) error) error) ([]*resource.Resource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries == nil {
		s.entries = map[K]*sharedEntry{}
	}
	s.pass++
	seen := 0
	add := func(key K, value []byte) error {
		e := s.entries[key]
		if e == nil || !bytes.Equal(e.value, value) {
			r, err := decode(name(key), value)
			if err != nil {
				return err
			}
			s.decoded++
			switch {
			case e == nil:
				e = &sharedEntry{}
				s.entries[key] = e
				s.sorted = false
			case e.r.Key() != r.Key():
				// Only a value stored under another resource's key
				// does this, but List would sort it by its own.
				s.sorted = false
			}
			// The value may be a read transaction's memory (bbolt's
			// mmap): keep a copy that outlives it.
			e.value, e.r = bytes.Clone(value), r
		}
		if e.seen != s.pass {
			e.seen = s.pass
			seen++
		}
		return nil
	}
	if err := each(add); err != nil {
		return nil, err
	}
	if !s.sorted || seen != len(s.entries) {
		s.sweep()
	}
	out := make([]*resource.Resource, len(s.order))
	for i, e := range s.order {
		out[i] = e.r
	}
	return out, nil
}

// sweep drops the entries the last pass did not see and sorts the rest.
func (s *sharedDecodes[K]) sweep() {
	s.order = s.order[:0]
	for k, e := range s.entries {
		if e.seen != s.pass {
			delete(s.entries, k)
			continue
		}
		s.order = append(s.order, e)
	}
	slices.SortFunc(s.order, func(a, b *sharedEntry) int { return compareKeys(a.r.Key(), b.r.Key()) })
	s.sorted = true
}

// decodes returns how many values the passes decoded so far.
func (s *sharedDecodes[K]) decodes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.decoded
}

// keyName is the name of a key stored as its string form.
func keyName(k string) string { return k }
