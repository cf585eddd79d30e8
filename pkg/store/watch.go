package store

import (
	"context"
	"sync"
)

// hub fans revisions out to watchers. Each watcher has a channel buffered
// with one slot that always holds the newest unread revision, so a slow
// watcher never blocks a commit and never reads a stale value last.
type hub struct {
	mu     sync.Mutex
	closed bool
	last   int64
	nextID int
	subs   map[int]*watcher
}

// watcher is one Watch call's channel and the hook that ends it with its
// context.
type watcher struct {
	ch   chan int64
	stop func() bool
}

// watch registers a watcher that ends when ctx is done or the hub closes.
func (h *hub) watch(ctx context.Context) <-chan int64 {
	ch := make(chan int64, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || ctx.Err() != nil {
		close(ch)
		return ch
	}
	if h.subs == nil {
		h.subs = make(map[int]*watcher)
	}
	id := h.nextID
	h.nextID++
	w := &watcher{ch: ch}
	h.subs[id] = w
	// AfterFunc runs in its own goroutine, so taking h.mu there cannot
	// deadlock with this call, which holds it.
	w.stop = context.AfterFunc(ctx, func() { h.remove(id) })
	return ch
}

// remove ends one watcher; it is a no-op when the hub already ended it.
func (h *hub) remove(id int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if w, ok := h.subs[id]; ok {
		delete(h.subs, id)
		close(w.ch)
	}
}

// notify offers rev to every watcher, replacing any unread older revision.
// Revisions at or below the last one sent are dropped, so a late caller
// can never make a watcher's newest value go backwards.
func (h *hub) notify(rev int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || rev <= h.last {
		return
	}
	h.last = rev
	for _, w := range h.subs {
		// Only notify sends and it holds h.mu, so after the drain the slot
		// is free; the default case is belt and braces, never a block.
		select {
		case <-w.ch:
		default:
		}
		select {
		case w.ch <- rev:
		default:
		}
	}
}

// resend offers the last revision again to every watcher, for readers
// whose read of it may have failed.
func (h *hub) resend() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.last == 0 {
		return
	}
	for _, w := range h.subs {
		select {
		case <-w.ch:
		default:
		}
		select {
		case w.ch <- h.last:
		default:
		}
	}
}

// close ends every watcher and makes later watches return closed channels.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for id, w := range h.subs {
		w.stop()
		delete(h.subs, id)
		close(w.ch)
	}
}
