// Package poll waits, in tests, for a condition that another goroutine or
// process makes true. Its bound is a liveness limit for a loaded machine,
// never a measure of speed: no test may fail because something was slow
// but finished within it.
package poll

import (
	"fmt"
	"runtime"
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
	if _, ok := wait(Within, func() (bool, string) { return cond(), "" }); !ok {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// UntilState is Until for a condition that can say what it saw: cond
// returns whether it holds and a description of the state it looked at,
// and a test that times out names the last one, so its failure says why
// the wait did not end and not only that it did not.
func UntilState(t testing.TB, what string, cond func() (ok bool, state string)) {
	t.Helper()
	untilState(t, what, Within, cond)
}

func untilState(t testing.TB, what string, within time.Duration, cond func() (bool, string)) {
	t.Helper()
	if state, ok := wait(within, cond); !ok {
		t.Fatalf("timed out waiting for %s; last seen: %s", what, state)
	}
}

// wait looks at cond until it holds or within passes, and returns the
// last state it saw and whether cond held.
func wait(within time.Duration, cond func() (bool, string)) (string, bool) {
	deadline := time.Now().Add(within)
	var state string
	for range int(within/every) + 1 {
		var ok bool
		if ok, state = cond(); ok {
			return state, true
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(every)
	}
	return state, false
}

// UntilGoroutines waits until no more than n goroutines run, for a test
// that checks the work it started does not outlive it; why says what
// the extra goroutines would be.
func UntilGoroutines(t testing.TB, n int, why string) {
	t.Helper()
	UntilState(t, fmt.Sprintf("the goroutines to fall back to the %d before the test's work (%s)", n, why), func() (bool, string) {
		got := runtime.NumGoroutine()
		return got <= n, fmt.Sprintf("%d goroutines", got)
	})
}

// Returned waits for the error a goroutine sends on done when it returns,
// and fails the test naming what did not return if none comes within
// Within, or with the error if it is not nil.
func Returned(t testing.TB, what string, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(Within):
		t.Fatalf("%s did not return within %s", what, Within)
	}
}
