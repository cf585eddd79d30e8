package agent

import (
	"context"
	"sync"
	"testing"
	"time"
)

// running is an agent's Run in its own goroutine.
type running struct {
	cancel context.CancelFunc
	done   chan error // Run's result
	once   sync.Once
}

// runAgent starts a.Run and stops it when the test ends.
func runAgent(t *testing.T, a *Agent) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop ends the agent and waits for it; it is safe to call twice.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("agent: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("the agent did not stop within 10s")
		}
	})
}
