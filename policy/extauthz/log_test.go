package extauthz

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
)

// directClient calls a Server's Check in process, for tests of what
// Check does rather than of gRPC.
type directClient struct{ s *Server }

func (c directClient) Check(ctx context.Context, req *authv3.CheckRequest, _ ...grpc.CallOption) (*authv3.CheckResponse, error) {
	return c.s.Check(ctx, req)
}

// stuckWriter is a log sink that takes no line until released.
type stuckWriter struct {
	release chan struct{}
	lines   atomic.Int64
}

func (w *stuckWriter) Write(p []byte) (int, error) {
	<-w.release
	w.lines.Add(int64(strings.Count(string(p), "\n")))
	return len(p), nil
}

// TestCheckNeverWaitsForTheLog: with a log sink that does not take a
// single line, Check still answers every request; the lines beyond the
// bounded queue are dropped and counted, and once the sink moves again
// every queued line is written.
func TestCheckNeverWaitsForTheLog(t *testing.T) {
	w := &stuckWriter{release: make(chan struct{})}
	dl := NewDecisionLog(hclog.New(&hclog.LoggerOptions{JSONFormat: true, Output: w, Level: hclog.Info}), nil, 1)
	srv := New(load(t, compileRego(t, getOnly)), Options{DecisionLog: dl, Timeout: time.Minute})

	const n = DecisionLogBuffer + 500
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			method := "GET"
			if i%2 == 1 {
				method = "POST"
			}
			if _, err := srv.Check(context.Background(), httpRequest(method, "/books", nil, "")); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute): // a liveness bound, not a timing
		t.Fatal("Check waited for the decision log's writer")
	}
	// One line is held by the stuck writer, DecisionLogBuffer wait.
	if got, want := dl.Dropped(), uint64(n-DecisionLogBuffer-1); got != want {
		t.Errorf("dropped %d lines, want %d", got, want)
	}
	close(w.release)
	dl.Close()
	if got, want := w.lines.Load(), int64(n)-int64(dl.Dropped()); got != want {
		t.Errorf("wrote %d lines, want %d", got, want)
	}
}

// TestDecisionLogSample: at sample 0 no allow is logged and every deny
// is; at 1 every decision is; at 0.5 about half the allows are.
func TestDecisionLogSample(t *testing.T) {
	for _, tc := range []struct {
		sample       float64
		allowsLogged func(int) bool
	}{
		{0, func(n int) bool { return n == 0 }},
		{1, func(n int) bool { return n == 200 }},
		{0.5, func(n int) bool { return n > 40 && n < 160 }}, // 1 in 10^17 to fail by chance
	} {
		var logs syncBuffer
		dl := NewDecisionLog(jsonLogger(&logs), nil, tc.sample)
		logs.flush = dl.Flush
		srv := New(load(t, compileRego(t, getOnly)), Options{DecisionLog: dl, Timeout: time.Minute})
		for range 200 {
			check(t, directClient{srv}, httpRequest("GET", "/books", nil, ""))
		}
		for range 20 {
			if resp := check(t, directClient{srv}, httpRequest("POST", "/books", nil, "")); resp.GetStatus().GetCode() == int32(code.Code_OK) {
				t.Fatal("POST allowed")
			}
		}
		outcomes := map[string]int{}
		for _, l := range logs.lines(t) {
			outcomes[l["decision"].(string)]++
		}
		dl.Close()
		if !tc.allowsLogged(outcomes["allow"]) || outcomes["deny"] != 20 {
			t.Errorf("sample %v: logged %v, want every deny and the sampled allows", tc.sample, outcomes)
		}
	}
}

// TestDecisionLogOffBuildsNothing: when the logger discards info lines,
// allows and denies queue nothing; errors, logged at warn, still do.
func TestDecisionLogOffBuildsNothing(t *testing.T) {
	w := &stuckWriter{release: make(chan struct{})}
	dl := NewDecisionLog(hclog.New(&hclog.LoggerOptions{Output: w, Level: hclog.Warn}), nil, 1)
	defer dl.Close()
	defer close(w.release)
	srv := New(load(t, compileRego(t, getOnly)), Options{DecisionLog: dl, Timeout: time.Minute})
	for range 3 * DecisionLogBuffer {
		check(t, directClient{srv}, httpRequest("POST", "/books", nil, ""))
		check(t, directClient{srv}, httpRequest("GET", "/books", nil, ""))
	}
	if len(dl.queue) != 0 || dl.Dropped() != 0 {
		t.Fatalf("%d lines queued, %d dropped for a logger that discards them", len(dl.queue), dl.Dropped())
	}
	failing := New(load(t, compileRego(t, conflicting)), Options{DecisionLog: dl})
	check(t, directClient{failing}, httpRequest("GET", "/", nil, ""))
	check(t, directClient{failing}, httpRequest("GET", "/", nil, ""))
	if len(dl.queue) == 0 {
		t.Fatal("an error's line was not queued")
	}
}
