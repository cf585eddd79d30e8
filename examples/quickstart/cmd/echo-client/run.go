package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	xdscreds "google.golang.org/grpc/credentials/xds"
	"google.golang.org/grpc/metadata"

	"embassy.dev/embassy/internal/echo"
)

// readyRetry is the pause between failed readiness calls. Calls wait for a
// ready channel themselves; this only stops a hot loop when the server
// answers with an error.
const readyRetry = 50 * time.Millisecond

// run dials the target, waits until it answers, and runs the chosen mode.
// It reports whether any measured call succeeded.
//
// The channel's credentials are gRPC's xDS credentials: the security
// config of the cluster each call goes to decides (mTLS with the
// bootstrap's certificate provider in an mTLS mesh), and plaintext is used
// where there is none: a DISABLED mesh, or a target that is not xds:///.
// With an insecure bootstrap (a control plane run with --insecure-xds)
// the client holds no certificate, so calls are plaintext.
func run(cfg config, out io.Writer) (bool, error) {
	creds := insecure.NewCredentials()
	if !echo.InsecureBootstrap() {
		var err error
		if creds, err = xdscreds.NewClientCredentials(xdscreds.ClientOptions{FallbackCreds: insecure.NewCredentials()}); err != nil {
			return false, err
		}
	}
	cc, err := grpc.NewClient(cfg.target, grpc.WithTransportCredentials(creds))
	if err != nil {
		return false, err
	}
	defer cc.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(cfg.headers) > 0 {
		ctx = metadata.NewOutgoingContext(ctx, cfg.headers)
	}
	if err := waitReady(ctx, cc, cfg); err != nil {
		return false, err
	}
	if cfg.method == echo.WhoamiMethod {
		return whoami(ctx, cc, cfg, out)
	}
	if cfg.interval > 0 {
		return watch(ctx, cc, cfg, out)
	}
	return burst(ctx, cc, cfg, out)
}

// waitReady makes calls, the same as the measured ones, until one succeeds
// or --ready-timeout passes. The first calls may fail while the xDS
// configuration is still arriving. With --ready-any the first answer of any
// status will do: a wait-for-ready call only gets one once the channel has
// its configuration, and a mesh that injects faults or cuts calls short
// may never let one succeed.
func waitReady(ctx context.Context, cc grpc.ClientConnInterface, cfg config) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.readyTimeout)
	defer cancel()
	var lastErr error
	for {
		cctx, ccancel := context.WithTimeout(ctx, cfg.callTimeout)
		_, err := echo.Invoke(cctx, cc, cfg.method, cfg.message, grpc.WaitForReady(true))
		ccancel()
		if err == nil || (cfg.readyAny && ctx.Err() == nil) {
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %v", cfg.target, cfg.readyTimeout, lastErr)
		case <-time.After(readyRetry):
		}
	}
}

// call makes one measured call and records it in *t under mu; *t is
// swapped for a fresh tally at every watch interval.
func call(ctx context.Context, cc grpc.ClientConnInterface, cfg config, mu *sync.Mutex, t **tally) {
	cctx, cancel := context.WithTimeout(ctx, cfg.callTimeout)
	start := time.Now()
	backend, err := echo.Invoke(cctx, cc, cfg.method, cfg.message)
	took := time.Since(start)
	cancel()
	if err != nil && cutShort(ctx) {
		// Cut short by the end of --duration or a signal: not an
		// outcome of the mesh, so not counted.
		return
	}
	mu.Lock()
	(*t).add(backend, err, took)
	mu.Unlock()
}

// cutShort reports whether ctx has ended. It also compares the clock with
// the deadline because grpc-go fails a call whose deadline has passed
// before the context's own timer has fired.
func cutShort(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// burst makes --count calls with --concurrency workers and prints the split.
func burst(ctx context.Context, cc grpc.ClientConnInterface, cfg config, out io.Writer) (bool, error) {
	var mu sync.Mutex
	t := newTally()
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	for range cfg.concurrency {
		wg.Go(func() {
			for range jobs {
				call(ctx, cc, cfg, &mu, &t)
			}
		})
	}
	for range cfg.count {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	if cfg.jsonOut {
		return t.Total > t.Errors, t.writeJSON(out)
	}
	return t.Total > t.Errors, t.writeReport(out)
}

// watch keeps --concurrency workers calling for --duration and prints each
// --interval's split as it ends.
func watch(ctx context.Context, cc grpc.ClientConnInterface, cfg config, out io.Writer) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	var mu sync.Mutex
	t := newTally()
	var wg sync.WaitGroup
	for range cfg.concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				call(ctx, cc, cfg, &mu, &t)
			}
		})
	}

	start := time.Now()
	anyOK := false
	// flush prints the interval that just ended and starts the next.
	flush := func() error {
		mu.Lock()
		done := t
		t = newTally()
		mu.Unlock()
		done.ElapsedMS = time.Since(start).Milliseconds()
		anyOK = anyOK || done.Total > done.Errors
		if cfg.jsonOut {
			return done.writeJSON(out)
		}
		return done.writeLine(out)
	}
	tick := time.NewTicker(cfg.interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if err := flush(); err != nil {
				return anyOK, err
			}
			continue
		case <-ctx.Done():
		}
		break
	}
	wg.Wait()
	// The last interval may be partial; print it if it holds any call.
	mu.Lock()
	pending := t.Total
	mu.Unlock()
	if pending > 0 {
		if err := flush(); err != nil {
			return anyOK, err
		}
	}
	return anyOK, nil
}

// whoami makes one Whoami call and prints what the server saw of us.
func whoami(ctx context.Context, cc grpc.ClientConnInterface, cfg config, out io.Writer) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, cfg.callTimeout)
	defer cancel()
	p, err := echo.Whoami(cctx, cc)
	if err != nil {
		return false, err
	}
	if cfg.jsonOut {
		return true, json.NewEncoder(out).Encode(p)
	}
	id := p.SPIFFEID
	if id == "" {
		id = "no client certificate"
	}
	_, err = fmt.Fprintf(out, "%s saw %s over %s (serial %s) from %s\n", p.Server, id, p.Security, orDash(p.Serial), p.Address)
	return true, err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
