package bench

import (
	"context"
	"fmt"
	"time"

	"embassy.dev/embassy/pkg/store"
)

// Server names an xDS server the harness measures.
type Server string

// The servers: embassy-cp, and a bare go-control-plane snapshot-cache
// server serving the same translated configuration, both in this process;
// and embassy-cp in child processes: one on a memory store (Single), or
// Config.Replicas of them sharing one etcd member (Replicas).
const (
	Embassy  Server = "embassy"
	Baseline Server = "baseline"
	Single   Server = "single"
	Replicas Server = "replicas"
)

// target is a running xDS server under test, seeded with a mesh. Both
// servers answer the same questions, so one phase measures either.
type target interface {
	// XDSAddrs are where the proxies connect (127.0.0.1 addresses), one
	// per server process; proxies spread evenly over them.
	XDSAddrs() []string
	// Heaps are the live heap of each server process now, after a GC, in
	// the order of XDSAddrs.
	Heaps() ([]uint64, error)
	// StoreHeap is the live heap of the server's store process, 0 when
	// the store is in the server's own.
	StoreHeap() (uint64, error)
	// CPU is the CPU time the server's processes (its store's included)
	// have used so far.
	CPU() time.Duration
	// Expect makes the server ready to serve the proxies with these node
	// ids, before they connect; what it keeps for them counts as their
	// heap.
	Expect(ctx context.Context, ids []string) error
	// Commit changes the mesh; the push to the proxies follows.
	Commit(ctx context.Context, ops []store.Op) error
	// Stats are the server's send counters now.
	Stats() pushStats
	// Connected counts the proxies of ids with a stream of mode open, per
	// server process, in the order of XDSAddrs.
	Connected(ids map[string]bool, mode Mode) []int
	// AckedSince counts the proxies of ids whose last response of typeURL
	// was sent at or after t and ACKed.
	AckedSince(ids map[string]bool, typeURL string, t time.Time) int
	// Err is a failure of the server's own push, if any.
	Err() error
	Close() error
}

// pushStats are a server's send counters at one moment: responses and
// their encoded size (proto.Size of each response), per protocol variant.
type pushStats struct {
	sotw, delta kindStats
}

type kindStats struct{ responses, bytes int64 }

// Sub returns the counters sent between o and p.
func (p pushStats) Sub(o pushStats) pushStats {
	return pushStats{
		sotw:  kindStats{p.sotw.responses - o.sotw.responses, p.sotw.bytes - o.sotw.bytes},
		delta: kindStats{p.delta.responses - o.delta.responses, p.delta.bytes - o.delta.bytes},
	}
}

func (p pushStats) kind(m Mode) kindStats {
	if m == Delta {
		return p.delta
	}
	return p.sotw
}

// Bytes is what was sent over streams of mode m.
func (p pushStats) Bytes(m Mode) int64 { return p.kind(m).bytes }

// Responses is how many responses were sent over streams of mode m.
func (p pushStats) Responses(m Mode) int64 { return p.kind(m).responses }

// startTarget starts server s and seeds it with the mesh of cfg; seed is
// how long the seeding took.
func startTarget(ctx context.Context, cfg Config, s Server) (t target, seed time.Duration, err error) {
	switch s {
	case Embassy:
		return startEmbassyXDS(ctx, cfg)
	case Baseline:
		return startBaseline(ctx, cfg)
	case Single:
		return startReplicas(ctx, cfg, 1, false)
	case Replicas:
		return startReplicas(ctx, cfg, cfg.Replicas, true)
	}
	return nil, 0, fmt.Errorf("server %q: expected %s, %s, %s or %s", s, Embassy, Baseline, Single, Replicas)
}
