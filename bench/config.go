package bench

import (
	"io"
	"os/exec"
	"time"
)

// Config is one benchmark run.
type Config struct {
	// Proxies is the number of simulated proxies per phase.
	Proxies int
	Mesh    MeshSize
	// Modes are the protocols measured, each phase with a fresh server.
	Modes []Mode
	// Servers are the servers measured (nil: embassy alone), each phase
	// with a fresh one; Runs is how many times each phase runs.
	Servers []Server
	Runs    int
	// SkipChanges ends each phase once the proxies are configured.
	SkipChanges bool
	// Debounce is the control plane's push debounce; the baseline waits
	// as long before it pushes a change, except after a quiet spell, as
	// the control plane does.
	Debounce time.Duration
	// ViaApply seeds the mesh through an apply instead of one store commit.
	ViaApply bool
	// Conns and Window shape the fleet (see FleetConfig).
	Conns, Window int
	// ConnectTimeout bounds the initial connection of every proxy;
	// ChangeTimeout bounds waiting for one change to reach them all.
	ConnectTimeout, ChangeTimeout time.Duration
	// Replicas is how many control planes the Replicas server runs, each
	// in its own process, sharing one etcd member in another.
	Replicas int
	// ReplicaCommand makes the command of one child process of the Single
	// and Replicas servers: it must call ServeReplicaChild.
	ReplicaCommand func() *exec.Cmd
	// NewClients makes the simulated proxies; nil runs them in this
	// process.
	NewClients func(FleetConfig) (Clients, error)
	// Log receives progress lines (nil: none).
	Log io.Writer
}

// Row is one measured change in one phase.
type Row struct {
	Server   Server
	Mode     Mode
	Proxies  int
	Services int
	Change   string
	// Observed is how many proxies reported the change; Acked how many the
	// server's status shows as having ACKed it.
	Observed, Acked int
	P50, P99, Max   time.Duration
	// Bytes is what the xDS server sent for the change, over every proxy;
	// Responses the number of responses.
	Bytes, Responses int64
}

// BytesPerProxy is the push's bytes divided by the proxies.
func (r Row) BytesPerProxy() float64 { return float64(r.Bytes) / float64(max(r.Proxies, 1)) }

// PhaseResult is one phase: one protocol, one server, one run.
type PhaseResult struct {
	Server   Server
	Mode     Mode
	Run      int
	Proxies  int
	Services int
	// Seed is how long seeding the mesh took.
	Seed time.Duration
	// Connect is how long until every proxy held its whole configuration.
	Connect time.Duration
	// ConnectBytes is what the xDS server sent during Connect.
	ConnectBytes int64
	// HeapBefore and HeapAfter are the server's live heap before and
	// after the proxies connected (after a GC), over all its processes;
	// Processes has each process's own.
	HeapBefore, HeapAfter uint64
	Processes             []ProcessHeap
	// EtcdHeap is the etcd member's live heap once the proxies were
	// configured, when the server runs on one.
	EtcdHeap uint64
	Rows     []Row
	Nacks    int64
	// ServerCPU is the CPU time this process (the server, and the harness)
	// used from connecting the proxies to the last change; FleetCPU is the
	// proxies' own over their life, 0 when they ran in this process.
	ServerCPU, FleetCPU time.Duration
}

// ConnectBytesPerProxy is what the server sent each proxy to configure it.
func (p PhaseResult) ConnectBytesPerProxy() float64 {
	return float64(p.ConnectBytes) / float64(max(p.Proxies, 1))
}

// HeapPerProxy is the heap the connected proxies added, per proxy.
func (p PhaseResult) HeapPerProxy() float64 {
	return (float64(p.HeapAfter) - float64(p.HeapBefore)) / float64(max(p.Proxies, 1))
}

// ProcessHeap is one server process's live heap before and after its
// share of the proxies connected.
type ProcessHeap struct {
	Before, After uint64
	Proxies       int
}

// PerProxy is the heap this process's proxies added, per proxy.
func (h ProcessHeap) PerProxy() float64 {
	return (float64(h.After) - float64(h.Before)) / float64(max(h.Proxies, 1))
}

// setHeaps records each process's heap before and after its proxies
// connected, and how many did.
func (p *PhaseResult) setHeaps(before, after []uint64, proxies []int) {
	p.HeapBefore, p.HeapAfter, p.Processes = 0, 0, nil
	for i := range min(len(before), len(after), len(proxies)) {
		h := ProcessHeap{Before: before[i], After: after[i], Proxies: proxies[i]}
		p.HeapBefore += h.Before
		p.HeapAfter += h.After
		p.Processes = append(p.Processes, h)
	}
}
