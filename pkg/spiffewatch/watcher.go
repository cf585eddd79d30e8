// Package spiffewatch follows a SPIFFE Workload API (a SPIRE agent's): the
// X.509 context (SVIDs and bundles) and the JWT bundles it streams. Both
// embassy-cp, which takes its own serving SVID from SPIRE, and
// embassy-agent, which takes a workload's, follow it through this package;
// each then picks the SVID it may use.
//
// The Workload API client retries most failures itself but ends a watch
// for good on some (InvalidArgument), while a follower must keep following
// rotations for as long as it runs: a watch that ends is started again,
// with backoff.
package spiffewatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Bounds of the backoff between restarts of a watch that ended.
const (
	minRestart = time.Second
	maxRestart = 30 * time.Second
)

// State is what the Workload API has sent so far. Its values are shared
// and must not be changed.
type State struct {
	// X509 is the latest X.509 context; nil until the first arrives.
	X509 *workloadapi.X509Context
	// JWTBundles is the latest set of JWT bundles; nil until the first
	// arrives.
	JWTBundles *jwtbundle.Set
	// X509Err and JWTErr say why the watch of each last failed; an update
	// of the same kind clears them.
	X509Err, JWTErr error
	// X509Failures and JWTFailures count the failures so far, so that a
	// follower can tell a new failure from one it has seen (errors need
	// not be comparable).
	X509Failures, JWTFailures int
}

// Watcher follows one Workload API until Close. It is safe for concurrent
// use.
type Watcher struct {
	socket string
	log    hclog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	st      State
	changed chan struct{}
}

// Start connects to the Workload API on the unix socket at path and
// follows it; the first answer arrives later, through Watch. log (nil for
// none) hears of watches that end and are started again.
func Start(path string, log hclog.Logger) (*Watcher, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	ctx, cancel := context.WithCancel(context.Background())
	client, err := workloadapi.New(ctx, workloadapi.WithAddr("unix://"+path))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("the Workload API at %s: %w", path, err)
	}
	w := &Watcher{socket: path, log: log, cancel: cancel, done: make(chan struct{}), changed: make(chan struct{})}
	var watches sync.WaitGroup
	watches.Go(func() { w.keepWatching(ctx, func() error { return client.WatchX509Context(ctx, x509Watcher{w}) }) })
	watches.Go(func() { w.keepWatching(ctx, func() error { return client.WatchJWTBundles(ctx, jwtWatcher{w}) }) })
	go func() {
		defer close(w.done)
		watches.Wait()
		client.Close()
	}()
	return w, nil
}

// Socket returns the path of the Workload API's socket.
func (w *Watcher) Socket() string { return w.socket }

// Watch returns the current state and a channel closed when it changes.
func (w *Watcher) Watch() (State, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st, w.changed
}

// Close stops following and waits until the watches have ended.
func (w *Watcher) Close() {
	w.cancel()
	<-w.done
}

// keepWatching runs watch again whenever it gives up, until ctx ends.
func (w *Watcher) keepWatching(ctx context.Context, watch func() error) {
	for backoff := minRestart; ; backoff = min(2*backoff, maxRestart) {
		err := watch()
		if ctx.Err() != nil {
			return
		}
		w.log.Warn("the Workload API watch ended; starting it again", "socket", w.socket, "error", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
}

// set changes the state with edit and wakes the watchers.
func (w *Watcher) set(edit func(*State)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	edit(&w.st)
	close(w.changed)
	w.changed = make(chan struct{})
}

// x509Watcher implements workloadapi.X509ContextWatcher for a Watcher.
type x509Watcher struct{ w *Watcher }

// OnX509ContextUpdate keeps the new context and clears the last error.
func (x x509Watcher) OnX509ContextUpdate(xc *workloadapi.X509Context) {
	x.w.set(func(s *State) { s.X509, s.X509Err = xc, nil })
}

// OnX509ContextWatchError keeps why the watch failed, unless it was stopped.
func (x x509Watcher) OnX509ContextWatchError(err error) {
	if !canceled(err) {
		x.w.set(func(s *State) { s.X509Err, s.X509Failures = err, s.X509Failures+1 })
	}
}

// jwtWatcher implements workloadapi.JWTBundleWatcher for a Watcher.
type jwtWatcher struct{ w *Watcher }

// OnJWTBundlesUpdate keeps the new bundles and clears the last error.
func (j jwtWatcher) OnJWTBundlesUpdate(set *jwtbundle.Set) {
	j.w.set(func(s *State) { s.JWTBundles, s.JWTErr = set, nil })
}

// OnJWTBundlesWatchError keeps why the watch failed, unless it was stopped.
func (j jwtWatcher) OnJWTBundlesWatchError(err error) {
	if !canceled(err) {
		j.w.set(func(s *State) { s.JWTErr, s.JWTFailures = err, s.JWTFailures+1 })
	}
}

// canceled reports an error of a watch that was stopped.
func canceled(err error) bool {
	return errors.Is(err, context.Canceled) || status.Code(err) == codes.Canceled
}
