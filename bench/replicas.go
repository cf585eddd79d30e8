package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/store"
)

// replicaTarget is embassy-cp in child processes: n control planes
// sharing one etcd member (the Replicas server), or one on a memory store
// (Single). The mesh is seeded and every change committed through the
// first; the proxies spread evenly over all of them, and every figure is
// the sum of each process's own.
type replicaTarget struct {
	cfg   Config
	dir   string
	etcd  *replicaProc
	procs []*replicaProc
	addrs []string

	mu  sync.Mutex
	err error
}

// startReplicas starts the processes, seeds the mesh through the first
// control plane and returns once every one has published it.
func startReplicas(ctx context.Context, cfg Config, n int, onEtcd bool) (_ target, seed time.Duration, err error) {
	if n < 1 {
		return nil, 0, fmt.Errorf("replicas: %d control planes: want at least 1", n)
	}
	if cfg.ReplicaCommand == nil {
		return nil, 0, errors.New("replicas: Config.ReplicaCommand is not set: the control planes need a binary that runs ServeReplicaChild")
	}
	r := &replicaTarget{cfg: cfg}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	start := &replicaStart{Mesh: cfg.Mesh, Debounce: cfg.Debounce, ViaApply: cfg.ViaApply}
	if onEtcd {
		if err := r.startEtcd(ctx, start); err != nil {
			return nil, 0, err
		}
	}
	for i := range n {
		p, err := startReplicaProc(cfg.ReplicaCommand(), fmt.Sprintf("control plane %d", i))
		if err != nil {
			return nil, 0, err
		}
		r.procs = append(r.procs, p)
		rep, err := p.call(ctx, replicaCmd{Op: "start", Start: start})
		if err != nil {
			return nil, 0, err
		}
		r.addrs = append(r.addrs, rep.Addr)
	}
	cfg.logf("%d control plane(s) serving on %s", n, storeName(onEtcd))
	rep, err := r.procs[0].call(ctx, replicaCmd{Op: "seed"})
	if err != nil {
		return nil, 0, err
	}
	for _, p := range r.procs {
		if _, err := p.call(ctx, replicaCmd{Op: "published", Rev: rep.Rev}); err != nil {
			return nil, 0, err
		}
	}
	return r, rep.Seed, nil
}

func storeName(onEtcd bool) string {
	if onEtcd {
		return "one etcd member"
	}
	return "a memory store"
}

// startEtcd starts the etcd member and the key-encryption key file every
// control plane on it is given.
func (r *replicaTarget) startEtcd(ctx context.Context, start *replicaStart) error {
	var err error
	if r.dir, err = os.MkdirTemp("", "embassy-bench-replicas-"); err != nil {
		return err
	}
	start.KEKFile = filepath.Join(r.dir, "ca.kek")
	if err := identity.WriteNewKEKFile(start.KEKFile); err != nil {
		return err
	}
	if r.etcd, err = startReplicaProc(r.cfg.ReplicaCommand(), "etcd member"); err != nil {
		return err
	}
	rep, err := r.etcd.call(ctx, replicaCmd{Op: "etcd"})
	if err != nil {
		return err
	}
	start.Endpoints = []string{rep.Addr}
	return nil
}

// fail keeps the first error of a call that has no error to return.
func (r *replicaTarget) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
	}
}

// childCallTimeout bounds one call to a child that target's methods make
// without a context of their own: a liveness limit (a GC of a few GiB
// takes seconds), not a measurement.
const childCallTimeout = 2 * time.Minute

// each calls every control plane with c and returns their replies.
func (r *replicaTarget) each(ctx context.Context, c replicaCmd) ([]replicaReply, error) {
	ctx, cancel := context.WithTimeout(ctx, childCallTimeout)
	defer cancel()
	out := make([]replicaReply, len(r.procs))
	for i, p := range r.procs {
		var err error
		if out[i], err = p.call(ctx, c); err != nil {
			return out, err
		}
	}
	return out, nil
}

// counts calls every control plane with c and returns their counts; a
// failure is kept for Err.
func (r *replicaTarget) counts(c replicaCmd) []int {
	reps, err := r.each(context.Background(), c)
	if err != nil {
		r.fail(err)
	}
	out := make([]int, len(reps))
	for i, rep := range reps {
		out[i] = rep.Count
	}
	return out
}

// XDSAddrs implements target.
func (r *replicaTarget) XDSAddrs() []string { return r.addrs }

// Heaps implements target: each control plane's own.
func (r *replicaTarget) Heaps() ([]uint64, error) {
	reps, err := r.each(context.Background(), replicaCmd{Op: "heap"})
	if err != nil {
		return nil, err
	}
	out := make([]uint64, len(reps))
	for i, rep := range reps {
		out[i] = rep.Heap
	}
	return out, nil
}

// StoreHeap implements target: the etcd member's live heap.
func (r *replicaTarget) StoreHeap() (uint64, error) {
	if r.etcd == nil {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), childCallTimeout)
	defer cancel()
	rep, err := r.etcd.call(ctx, replicaCmd{Op: "heap"})
	return rep.Heap, err
}

// CPU implements target: the control planes' and the etcd member's.
func (r *replicaTarget) CPU() time.Duration {
	procs := r.procs
	if r.etcd != nil {
		procs = append([]*replicaProc{r.etcd}, procs...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), childCallTimeout)
	defer cancel()
	var d time.Duration
	for _, p := range procs {
		rep, err := p.call(ctx, replicaCmd{Op: "cpu"})
		if err != nil {
			r.fail(err)
		}
		d += rep.CPU
	}
	return d
}

// Expect implements target: each control plane counts only these
// proxies.
func (r *replicaTarget) Expect(ctx context.Context, ids []string) error {
	_, err := r.each(ctx, replicaCmd{Op: "expect", IDs: ids})
	return err
}

// Commit implements target through the first control plane.
func (r *replicaTarget) Commit(ctx context.Context, ops []store.Op) error {
	_, err := r.procs[0].call(ctx, replicaCmd{Op: "commit", Ops: ops})
	return err
}

// Stats implements target: the sum of every control plane's counters.
func (r *replicaTarget) Stats() pushStats {
	reps, err := r.each(context.Background(), replicaCmd{Op: "stats"})
	if err != nil {
		r.fail(err)
	}
	var s pushStats
	for _, rep := range reps {
		s.sotw.responses += rep.Stats[0]
		s.sotw.bytes += rep.Stats[1]
		s.delta.responses += rep.Stats[2]
		s.delta.bytes += rep.Stats[3]
	}
	return s
}

// Connected implements target: the proxies each control plane lists as
// connected, of the ids it was given in Expect.
func (r *replicaTarget) Connected(_ map[string]bool, mode Mode) []int {
	return r.counts(replicaCmd{Op: "connected", Mode: mode})
}

// AckedSince implements target, over all the control planes.
func (r *replicaTarget) AckedSince(_ map[string]bool, typeURL string, t time.Time) int {
	return sumInts(r.counts(replicaCmd{Op: "acked", TypeURL: typeURL, Since: t.UnixNano()}))
}

// Err implements target: the first failed call to a child.
func (r *replicaTarget) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Close implements target: the control planes first, then their store.
func (r *replicaTarget) Close() error {
	var errs []error
	for _, p := range r.procs {
		errs = append(errs, p.stop())
	}
	if r.etcd != nil {
		errs = append(errs, r.etcd.stop())
	}
	if r.dir != "" {
		os.RemoveAll(r.dir)
	}
	return errors.Join(errs...)
}

// RunReplicas runs cfg's phases on one control plane (Single) and on
// cfg.Replicas of them sharing one etcd member (Replicas), alternating
// which goes first from one run to the next.
func RunReplicas(ctx context.Context, cfg Config) ([]PhaseResult, error) {
	if cfg.Replicas < 1 {
		return nil, fmt.Errorf("replicas: %d control planes: want at least 1", cfg.Replicas)
	}
	cfg.Servers = []Server{Single, Replicas}
	return Run(ctx, cfg)
}
