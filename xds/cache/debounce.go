package cache

import "time"

// Default debounce settings.
const (
	// DefaultDebounce is how long the publisher waits after the last update
	// before pushing, so a burst of store changes becomes one push.
	DefaultDebounce = 100 * time.Millisecond
	// DefaultMaxDelay bounds how long a steady stream of updates can hold
	// back a push.
	DefaultMaxDelay = time.Second
)

// pushDeadline is when a pending update must be pushed: Debounce after the
// last update, but never later than MaxDelay after the first pending one.
func pushDeadline(first, last time.Time, debounce, maxDelay time.Duration) time.Time {
	d := last.Add(debounce)
	if m := first.Add(maxDelay); m.Before(d) {
		return m
	}
	return d
}

// run is the publisher's push loop. It owns the timer; Update only records
// the pending snapshot and kicks the loop.
func (p *Publisher) run() {
	defer close(p.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-p.kick:
			if at, ok := p.deadline(); ok {
				timer.Reset(time.Until(at))
			}
		case <-timer.C:
			if m := p.takePending(); m != nil {
				p.push(m)
				p.pushEnded()
			}
		}
	}
}

// deadline reports when the pending snapshot is due, if there is one.
func (p *Publisher) deadline() (time.Time, bool) {
	p.pendingMu.Lock()
	defer p.pendingMu.Unlock()
	if p.pending == nil {
		return time.Time{}, false
	}
	if p.atOnce {
		return p.firstPending, true
	}
	return pushDeadline(p.firstPending, p.lastPending, p.debounce, p.maxDelay), true
}

// pushEnded starts the quiet spell after a push: an update that follows
// it within the debounce is coalesced, not pushed at once.
func (p *Publisher) pushEnded() {
	p.pendingMu.Lock()
	defer p.pendingMu.Unlock()
	p.lastActive = time.Now()
}
