package extauthz

import (
	"container/list"
	"sync"

	"embassy.dev/embassy/policy/engine"
)

// lru is a bounded map from input key to cached decision that evicts the
// least recently used entry. It is safe for concurrent use.
type lru struct {
	size int

	mu    sync.Mutex
	order *list.List // front is the most recently used *lruEntry
	byKey map[string]*list.Element
}

type lruEntry struct {
	key string
	c   *cached
}

// cached is one cached decision, never changed once cached: the decision,
// and its response encoded for the wire (nil when it does not encode).
type cached struct {
	d    engine.Decision
	wire *wireAnswer
}

func newLRU(size int) *lru {
	return &lru{size: size, order: list.New(), byKey: make(map[string]*list.Element, size)}
}

func (c *lru) get(key string) (*cached, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry).c, true
}

func (c *lru) put(key string, v *cached) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[key]; ok {
		e.Value.(*lruEntry).c = v
		c.order.MoveToFront(e)
		return
	}
	c.byKey[key] = c.order.PushFront(&lruEntry{key: key, c: v})
	if c.order.Len() > c.size {
		old := c.order.Remove(c.order.Back()).(*lruEntry)
		delete(c.byKey, old.key)
	}
}

func (c *lru) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
