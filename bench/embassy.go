package bench

import (
	"context"
	"fmt"
	"os"
	"time"

	"embassy.dev/embassy/internal/proccpu"
	"embassy.dev/embassy/pkg/controlplane"
	"embassy.dev/embassy/pkg/store"
)

// embassyTarget is embassy-cp, in this process, with a memory store (or,
// as a replica child, with whatever store the parent named).
type embassyTarget struct {
	cfg Config
	dir string
	cp  *controlplane.ControlPlane
}

func startEmbassyXDS(ctx context.Context, cfg Config) (_ target, seed time.Duration, err error) {
	e, err := newEmbassy(ctx, cfg, func(c *controlplane.Config) { c.Store = "memory" })
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	if seed, err = e.seed(ctx); err != nil {
		return nil, 0, err
	}
	if err := e.waitPublished(ctx, e.cp.Store().Revision()); err != nil {
		return nil, 0, err
	}
	return e, seed, nil
}

// newEmbassy starts a control plane on a store that withStore picks, and
// returns once its store watch is live.
func newEmbassy(ctx context.Context, cfg Config, withStore func(*controlplane.Config)) (e *embassyTarget, err error) {
	e = &embassyTarget{cfg: cfg}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	if e.dir, err = os.MkdirTemp("", "embassy-bench-"); err != nil {
		return nil, err
	}
	cc := controlplane.Config{
		DataDir: e.dir,
		XDSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0",
		Debounce: cfg.Debounce,
		// The simulated proxies hold no SVIDs: they measure pushes, not
		// TLS handshakes.
		InsecureXDS: true,
	}
	withStore(&cc)
	if e.cp, err = controlplane.Start(ctx, cc); err != nil {
		return nil, fmt.Errorf("starting the control plane: %w", err)
	}
	if err := e.primeWatch(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// seed writes the generated mesh through this control plane.
func (e *embassyTarget) seed(ctx context.Context) (time.Duration, error) {
	rs, err := e.cfg.Mesh.Resources()
	if err != nil {
		return 0, err
	}
	e.cfg.logf("embassy: seeding %d services, %d workloads (%d resources)...", e.cfg.Mesh.Services, e.cfg.Mesh.Services*e.cfg.Mesh.EndpointsPerService, len(rs))
	return Seed(ctx, e.cp.Store(), rs, e.cfg.ViaApply)
}

// XDSAddrs implements target.
func (e *embassyTarget) XDSAddrs() []string { return []string{e.cp.XDSAddr()} }

// Heaps implements target: this process's.
func (e *embassyTarget) Heaps() ([]uint64, error) { return []uint64{liveHeap()}, nil }

// StoreHeap implements target: the store is in this process.
func (e *embassyTarget) StoreHeap() (uint64, error) { return 0, nil }

// CPU implements target: this process's, the harness's included.
func (e *embassyTarget) CPU() time.Duration { return proccpu.Used() }

// Expect implements target: embassy-cp learns of a proxy when it connects.
func (e *embassyTarget) Expect(context.Context, []string) error { return nil }

// Commit implements target with one store commit.
func (e *embassyTarget) Commit(ctx context.Context, ops []store.Op) error {
	_, err := e.cp.Store().Commit(ctx, ops)
	return err
}

// Stats implements target from the xDS server's own counters.
func (e *embassyTarget) Stats() pushStats {
	s := e.cp.XDS().Stats()
	return pushStats{
		sotw:  kindStats{s.SotW.Responses, s.SotW.Bytes},
		delta: kindStats{s.Delta.Responses, s.Delta.Bytes},
	}
}

// Connected implements target from the control plane's own proxy status.
func (e *embassyTarget) Connected(ids map[string]bool, mode Mode) []int {
	return []int{e.connected(ids, mode)}
}

func (e *embassyTarget) connected(ids map[string]bool, mode Mode) int {
	n := 0
	for _, p := range e.cp.XDS().Proxies() {
		if ids[p.ID] && p.XDS == string(mode) {
			n++
		}
	}
	return n
}

// AckedSince implements target from the control plane's own proxy status.
func (e *embassyTarget) AckedSince(ids map[string]bool, typeURL string, t time.Time) int {
	n := 0
	for _, p := range e.cp.XDS().Proxies() {
		ts, ok := p.Types[typeURL]
		if ids[p.ID] && ok && ts.VersionAcked != "" && ts.VersionAcked == ts.VersionSent && !ts.SentAt.Before(t) {
			n++
		}
	}
	return n
}

// Err implements target: embassy-cp reports its push failures in its
// status, which AckedSince reads.
func (e *embassyTarget) Err() error { return nil }

// Close implements target.
func (e *embassyTarget) Close() error {
	var err error
	if e.cp != nil {
		err = e.cp.Close()
	}
	if e.dir != "" {
		os.RemoveAll(e.dir)
	}
	return err
}

// primeWatch commits the Mesh resource until the xDS server has published
// it. controlplane.Start returns before its store watch is subscribed, so a
// commit made right after Start may go unnoticed; retrying the commit
// (with a new annotation, so it is a change) makes sure the watch is live
// before the mesh is seeded.
func (e *embassyTarget) primeWatch(ctx context.Context) error {
	wait := e.cfg.Debounce + time.Second
	for attempt := 1; attempt <= 5; attempt++ {
		m, err := e.cfg.Mesh.MeshResource()
		if err != nil {
			return err
		}
		m.Metadata.Annotations = map[string]string{"bench.embassy.dev/attempt": fmt.Sprint(attempt)}
		rev, err := e.cp.Store().Commit(ctx, []store.Op{{Key: m.Key(), Resource: m}})
		if err != nil {
			return fmt.Errorf("embassy: committing the Mesh: %w", err)
		}
		deadline := time.Now().Add(wait)
		for time.Now().Before(deadline) {
			if e.cp.XDS().Stats().Revision >= rev {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return fmt.Errorf("embassy: the control plane published none of 5 commits of the Mesh resource")
}

// waitPublished waits until the xDS server has pushed the store's revision
// rev to its cache, so proxies connecting next get the whole mesh at once.
func (e *embassyTarget) waitPublished(ctx context.Context, rev int64) error {
	deadline := time.Now().Add(e.cfg.ConnectTimeout)
	for e.cp.XDS().Stats().Revision < rev {
		if time.Now().After(deadline) {
			return fmt.Errorf("embassy: the xDS server did not publish store revision %d within %v (it is at %d)", rev, e.cfg.ConnectTimeout, e.cp.XDS().Stats().Revision)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
