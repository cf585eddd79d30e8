package cache

import (
	"sync"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
)

// encodings keeps one entry per resource content, so every set, view and
// response that carries a resource shares one encoding of it, and a
// resource that did not change keeps its entry from one push to the next.
// Entries live for the current and the previous push (rotate), so memory
// follows what proxies hold, not history. It is safe for concurrent use:
// pushes and connecting nodes translate at the same time.
type encodings struct {
	mu        sync.Mutex
	cur, prev map[encodingKey]*entry
}

type encodingKey struct{ typ, name, hash string }

func newEncodings() *encodings {
	return &encodings{cur: map[encodingKey]*entry{}, prev: map[encodingKey]*entry{}}
}

// rotate starts a push: entries not used since the previous one go.
func (c *encodings) rotate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prev, c.cur = c.cur, map[encodingKey]*entry{}
}

// entry returns res's name and its entry, the one already known for the
// same content if there is one.
func (c *encodings) entry(typ string, res types.Resource) (string, *entry, error) {
	name, e, err := entryOf(typ, res)
	if err != nil {
		return "", nil, err
	}
	k := encodingKey{typ, name, e.hash}
	c.mu.Lock()
	defer c.mu.Unlock()
	if known, ok := c.cur[k]; ok {
		return name, known, nil
	}
	if known, ok := c.prev[k]; ok {
		e = known
	}
	c.cur[k] = e
	return name, e, nil
}
