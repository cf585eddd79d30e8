package e2e

import (
	"encoding/json"
	"os/exec"
	"testing"
	"time"
)

// clientIntervals follows an echo-client printing one JSON line per
// 100ms: how its calls split between versions in that interval.
type clientIntervals struct {
	t  *testing.T
	ch <-chan string
}

// startIntervals runs an echo-client calling target for d through the
// xDS bootstrap boot; it is killed when the test ends.
func startIntervals(t *testing.T, boot, target string, d time.Duration) *clientIntervals {
	t.Helper()
	client := exec.Command(bin("echo-client"), "--bootstrap", boot, "--target", target, "--json", "--interval", "100ms", "--duration", d.String())
	stdout, err := client.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Process.Kill(); _ = client.Wait() })
	return &clientIntervals{t: t, ch: lines(stdout)}
}

// intervals follows an echo-client calling echo.default and returns its
// next interval on each call.
func intervals(t *testing.T, boot string, d time.Duration) func() split {
	t.Helper()
	return startIntervals(t, boot, "xds:///echo.default:50051", d).next
}

// next is the client's next interval; the client must print one within
// 5s.
func (iv *clientIntervals) next() split {
	iv.t.Helper()
	select {
	case l, open := <-iv.ch:
		if !open {
			iv.t.Fatal("echo-client stopped printing early")
		}
		return iv.parse(l)
	case <-time.After(5 * time.Second):
		iv.t.Fatal("no interval line from echo-client within 5s")
	}
	return split{}
}

// until returns when an interval satisfies ok, and when it was printed;
// it fails the test after a bound that is a liveness limit only.
func (iv *clientIntervals) until(what string, ok func(split) bool) time.Time {
	iv.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case l, open := <-iv.ch:
			if !open {
				iv.t.Fatalf("echo-client stopped before %s", what)
			}
			if ok(iv.parse(l)) {
				return time.Now()
			}
		case <-deadline:
			iv.t.Fatalf("no interval within 15s where %s", what)
		}
	}
}

func (iv *clientIntervals) parse(l string) split {
	iv.t.Helper()
	var s split
	if err := json.Unmarshal([]byte(l), &s); err != nil {
		iv.t.Fatalf("echo-client printed %q: %v", l, err)
	}
	return s
}
