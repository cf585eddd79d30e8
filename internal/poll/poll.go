// Package poll waits, in tests, for a condition that another goroutine or
// process makes true. Its bound is a liveness limit for a loaded machine,
// never a measure of speed: no test may fail because something was slow
// but finished within it.
package poll

import (
	"testing"
	"time"
)

// Within is how long Until waits before it fails the test.
const Within = 10 * time.Second

// every is the pause between two looks at the condition.
const every = 10 * time.Millisecond

// Until returns once cond holds and fails the test, naming what it waited
// for, if cond has not held within Within. The loop is bounded in count as
// well as in time, so a clock that stands still cannot make it spin forever.
func Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Within)
	for range int(Within / every) {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(every)
	}
	t.Fatalf("timed out waiting for %s", what)
}
