package poll

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// fatalRecorder is a testing.TB whose Fatalf records the message instead
// of ending the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) { r.msg = fmt.Sprintf(format, args...) }

// TestUntilStateNamesTheLastState checks that a wait that times out says
// what it waited for and the last state the condition saw.
func TestUntilStateNamesTheLastState(t *testing.T) {
	r := &fatalRecorder{TB: t}
	looks := 0
	untilState(r, "three replicas", 50*time.Millisecond, func() (bool, string) {
		looks++
		return false, fmt.Sprintf("%d replicas", min(looks, 2))
	})
	if r.msg != "timed out waiting for three replicas; last seen: 2 replicas" || looks < 2 {
		t.Fatalf("message %q after %d looks", r.msg, looks)
	}
}

// TestUntilStateReturnsOnceItHolds checks that a condition that comes to
// hold ends the wait without failing.
func TestUntilStateReturnsOnceItHolds(t *testing.T) {
	r := &fatalRecorder{TB: t}
	looks := 0
	UntilState(r, "the third look", func() (bool, string) {
		looks++
		return looks == 3, strings.Repeat("x", looks)
	})
	if r.msg != "" || looks != 3 {
		t.Fatalf("message %q after %d looks", r.msg, looks)
	}
}

// TestReturnedNamesTheError checks that a goroutine that returned an
// error fails the test with what returned and the error, and one that
// returned nil does not.
func TestReturnedNamesTheError(t *testing.T) {
	r := &fatalRecorder{TB: t}
	done := make(chan error, 2)
	done <- nil
	Returned(r, "the server", done)
	if r.msg != "" {
		t.Fatalf("a nil return failed the test: %q", r.msg)
	}
	done <- fmt.Errorf("listener closed")
	Returned(r, "the server", done)
	if r.msg != "the server: listener closed" {
		t.Fatalf("message %q", r.msg)
	}
}
