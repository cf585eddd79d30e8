package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// decider asks one authorizer about request i of the fixed set over one
// client's own connection, and returns whether it was allowed.
type decider func(ctx context.Context, i int) (bool, error)

// newDecider opens one client (connection) of an authorizer; done closes it.
type newDecider func() (d decider, done func(), err error)

// AuthzRow is one authorizer's measurement.
type AuthzRow struct {
	// Name says which authorizer and how it was reached.
	Name string
	// Calls is how many Checks completed; Elapsed is the wall time they
	// took, all clients together.
	Calls   int
	Elapsed time.Duration
	// P50 and P99 are per-call latencies as the clients saw them.
	P50, P99 time.Duration
	// Mismatches counts calls whose decision differed from the reference
	// decision for their request.
	Mismatches int

	lat []time.Duration // every call's latency, for merging rounds
}

// add merges another round of the same authorizer into r.
func (r *AuthzRow) add(o AuthzRow) {
	r.Calls += o.Calls
	r.Elapsed += o.Elapsed
	r.Mismatches += o.Mismatches
	r.lat = append(r.lat, o.lat...)
	r.P50, r.P99, _ = percentiles(r.lat)
}

// PerSecond is the row's throughput.
func (r AuthzRow) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Calls) / r.Elapsed.Seconds()
}

// load runs clients concurrent clients over the requests in turn until
// calls Checks were issued or dur passed, whichever is first, and
// compares every decision with ref.
func load(ctx context.Context, name string, clients, calls int, dur time.Duration, ref []bool, open newDecider) (AuthzRow, error) {
	decide := make([]decider, 0, clients)
	for range clients {
		d, done, err := open()
		if err != nil {
			return AuthzRow{}, fmt.Errorf("%s: opening a client: %w", name, err)
		}
		defer done()
		decide = append(decide, d)
	}
	var (
		issued     atomic.Int64
		mismatches atomic.Int64
		wg         sync.WaitGroup
		errOnce    sync.Once
		firstErr   error
	)
	// Start from a collected heap, so one side does not pay for the
	// garbage of what ran before it.
	runtime.GC()
	lat := make([][]time.Duration, clients)
	start := time.Now()
	deadline := start.Add(dur)
	for c, d := range decide {
		lat[c] = make([]time.Duration, 0, calls/clients+1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				n := issued.Add(1)
				if n > int64(calls) {
					return
				}
				i := int(n-1) % len(ref)
				t0 := time.Now()
				allowed, err := d(ctx, i)
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("%s: request %d: %w", name, i, err) })
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
				if allowed != ref[i] {
					mismatches.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	row := AuthzRow{Name: name, Elapsed: time.Since(start), Mismatches: int(mismatches.Load())}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	row.Calls, row.lat = len(all), all
	row.P50, row.P99, _ = percentiles(all)
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return row, firstErr
}
