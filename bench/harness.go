package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"embassy.dev/embassy/pkg/controlplane"
)

// Config is one benchmark run.
type Config struct {
	// Proxies is the number of simulated proxies per phase.
	Proxies int
	Mesh    MeshSize
	// Modes are the phases, each with a fresh control plane.
	Modes []Mode
	// Debounce is the control plane's push debounce.
	Debounce time.Duration
	// ViaApply seeds the mesh through an apply instead of one store commit.
	ViaApply bool
	// Conns and Window shape the fleet (see FleetConfig).
	Conns, Window int
	// ConnectTimeout bounds the initial connection of every proxy;
	// ChangeTimeout bounds waiting for one change to reach them all.
	ConnectTimeout, ChangeTimeout time.Duration
	// NewClients makes the simulated proxies; nil runs them in this
	// process.
	NewClients func(FleetConfig) (Clients, error)
	// Log receives progress lines (nil: none).
	Log io.Writer
}

// Row is one measured change in one phase.
type Row struct {
	Mode     Mode
	Proxies  int
	Services int
	Change   string
	// Observed is how many proxies reported the change; Acked how many the
	// control plane's status shows as having ACKed it.
	Observed, Acked int
	P50, P99, Max   time.Duration
	// Bytes is what the xDS server sent for the change, over every proxy;
	// Responses the number of responses.
	Bytes, Responses int64
}

// BytesPerProxy is the push's bytes divided by the proxies.
func (r Row) BytesPerProxy() float64 { return float64(r.Bytes) / float64(max(r.Proxies, 1)) }

// PhaseResult is one phase: one protocol, one control plane.
type PhaseResult struct {
	Mode    Mode
	Proxies int
	Seed    time.Duration
	// Connect is how long until every proxy held its whole configuration.
	Connect time.Duration
	// ConnectBytes is what the xDS server sent during Connect.
	ConnectBytes int64
	// HeapBefore and HeapAfter are the control plane's live heap before
	// and after the proxies connected (after a GC).
	HeapBefore, HeapAfter uint64
	Rows                  []Row
	Nacks                 int64
}

// HeapPerProxy is the heap the connected proxies added, per proxy.
func (p PhaseResult) HeapPerProxy() float64 {
	return (float64(p.HeapAfter) - float64(p.HeapBefore)) / float64(max(p.Proxies, 1))
}

// Run runs every phase of cfg in turn.
func Run(ctx context.Context, cfg Config) ([]PhaseResult, error) {
	var out []PhaseResult
	for _, m := range cfg.Modes {
		ph, err := StartPhase(ctx, cfg, m)
		if err != nil {
			return out, err
		}
		res, err := ph.measureAll(ctx)
		if cerr := ph.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("%s phase: closing: %w", m, cerr)
		}
		out = append(out, res)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// Phase is a control plane with a seeded mesh and connected proxies.
type Phase struct {
	cfg     Config
	mode    Mode
	dir     string
	cp      *controlplane.ControlPlane
	clients Clients
	ids     map[string]bool
	Result  PhaseResult
}

func (c Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// StartPhase starts a control plane, seeds the mesh, and connects
// cfg.Proxies proxies speaking mode.
func StartPhase(ctx context.Context, cfg Config, mode Mode) (ph *Phase, err error) {
	ids, err := cfg.Mesh.NodeIDs(cfg.Proxies)
	if err != nil {
		return nil, err
	}
	ph = &Phase{cfg: cfg, mode: mode, ids: map[string]bool{}, Result: PhaseResult{Mode: mode, Proxies: cfg.Proxies}}
	for _, id := range ids {
		ph.ids[id] = true
	}
	defer func() {
		if err != nil {
			ph.Close()
			ph = nil
		}
	}()
	if ph.dir, err = os.MkdirTemp("", "embassy-bench-"); err != nil {
		return ph, err
	}
	ph.cp, err = controlplane.Start(ctx, controlplane.Config{
		DataDir: ph.dir, Store: "memory",
		XDSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0",
		Debounce: cfg.Debounce,
		// The simulated proxies hold no SVIDs: they measure pushes, not
		// TLS handshakes.
		InsecureXDS: true,
	})
	if err != nil {
		return ph, fmt.Errorf("starting the control plane: %w", err)
	}
	if err := ph.primeWatch(ctx); err != nil {
		return ph, err
	}
	rs := cfg.Mesh.Resources()
	cfg.logf("%s: seeding %d services, %d workloads (%d resources)...", mode, cfg.Mesh.Services, cfg.Mesh.Services*cfg.Mesh.EndpointsPerService, len(rs))
	if ph.Result.Seed, err = Seed(ctx, ph.cp.Store(), rs, cfg.ViaApply); err != nil {
		return ph, err
	}
	if err := ph.waitPublished(ctx, ph.cp.Store().Revision()); err != nil {
		return ph, err
	}
	ph.Result.HeapBefore = liveHeap()

	fc := FleetConfig{Addr: ph.cp.XDSAddr(), Mode: mode, NodeIDs: ids, Conns: cfg.Conns, Window: cfg.Window, MinClusters: cfg.Mesh.Services}
	newClients := cfg.NewClients
	if newClients == nil {
		newClients = func(fc FleetConfig) (Clients, error) { return NewFleet(fc) }
	}
	if ph.clients, err = newClients(fc); err != nil {
		return ph, err
	}
	before := ph.pushStats()
	cfg.logf("%s: connecting %d proxies...", mode, cfg.Proxies)
	cctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	start := time.Now()
	err = ph.clients.Connect(cctx, func(ready, total int) {
		cfg.logf("%s: connecting %d proxies... %d/%d", mode, total, ready, total)
	})
	if err != nil {
		return ph, fmt.Errorf("%s phase: connecting: %w", mode, err)
	}
	ph.Result.Connect = time.Since(start)
	if err := ph.waitQuiet(ctx); err != nil {
		return ph, err
	}
	ph.Result.ConnectBytes = ph.pushStats().Sub(before).Bytes(mode)
	ph.Result.HeapAfter = liveHeap()
	if n := ph.connected(); n != cfg.Proxies {
		return ph, fmt.Errorf("%s phase: the control plane lists %d of our %d proxies as connected over %s", mode, n, cfg.Proxies, mode)
	}
	cfg.logf("%s: %d proxies configured in %v", mode, cfg.Proxies, ph.Result.Connect.Round(time.Millisecond))
	return ph, nil
}

// liveHeap is the heap in use after two collections, so garbage does not
// count.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// connected counts our proxies the control plane lists with the phase's
// protocol.
func (ph *Phase) connected() int {
	n := 0
	for _, p := range ph.cp.XDS().Proxies() {
		if ph.ids[p.ID] && p.XDS == string(ph.mode) {
			n++
		}
	}
	return n
}

// waitQuiet waits until the xDS server has sent nothing for a while, so a
// measurement neither includes the previous push's tail nor starts before
// it ended. It gives up quietly after 30s: a server that never stops
// sending shows in the numbers.
func (ph *Phase) waitQuiet(ctx context.Context) error {
	quiet := max(2*ph.cfg.Debounce, 200*time.Millisecond)
	deadline := time.Now().Add(30 * time.Second)
	last, since := ph.pushStats(), time.Now()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		cur := ph.pushStats()
		if cur != last {
			last, since = cur, time.Now()
			continue
		}
		if time.Since(since) >= quiet {
			return nil
		}
	}
	ph.cfg.logf("%s: the xDS server was still sending after 30s; measuring anyway", ph.mode)
	return nil
}

func (ph *Phase) measureAll(ctx context.Context) (PhaseResult, error) {
	for _, ch := range []Change{ph.cfg.Mesh.EndpointChange(0), ph.cfg.Mesh.RouteChange(0)} {
		row, err := ph.Measure(ctx, ch)
		ph.Result.Rows = append(ph.Result.Rows, row)
		if err != nil {
			return ph.Result, err
		}
	}
	cs, err := ph.clients.Counters(ctx)
	if err != nil {
		return ph.Result, err
	}
	ph.Result.Nacks = cs.Nacks
	if cs.Nacks > 0 {
		return ph.Result, fmt.Errorf("%s phase: the proxies NACKed %d responses", ph.mode, cs.Nacks)
	}
	return ph.Result, nil
}

// Measure makes one change and waits until every proxy received and ACKed
// it. The row holds what was measured even when it returns an error.
func (ph *Phase) Measure(ctx context.Context, ch Change) (Row, error) {
	m, err := ph.Arm(ctx, ch)
	if err != nil {
		return m.row, err
	}
	if err := m.Push(ctx); err != nil {
		return m.row, err
	}
	return m.Settle(ctx)
}

// Measurement is one change in progress: armed, pushed, then settled.
type Measurement struct {
	ph     *Phase
	ch     Change
	row    Row
	seq    int
	before pushStats
	t0     time.Time
}

// Arm makes every proxy watch for the change's resource.
func (ph *Phase) Arm(ctx context.Context, ch Change) (*Measurement, error) {
	m := &Measurement{ph: ph, ch: ch, row: Row{Mode: ph.mode, Proxies: ph.cfg.Proxies, Services: ph.cfg.Mesh.Services, Change: ch.Name}}
	var err error
	if m.seq, err = ph.clients.Arm(ctx, ch.TypeURL, ch.Resource); err != nil {
		return m, fmt.Errorf("%s phase, %s change: %w", ph.mode, ch.Name, err)
	}
	m.before = ph.pushStats()
	return m, nil
}

// Push commits the change and waits until every proxy reported it, or
// the phase's ChangeTimeout.
func (m *Measurement) Push(ctx context.Context) error {
	ph := m.ph
	ph.cfg.logf("%s: %s change, waiting for %d proxies...", ph.mode, m.ch.Name, ph.cfg.Proxies)
	m.t0 = time.Now()
	if _, err := ph.cp.Store().Commit(ctx, m.ch.Ops); err != nil {
		return fmt.Errorf("%s phase, %s change: committing: %w", ph.mode, m.ch.Name, err)
	}
	wctx, cancel := context.WithTimeout(ctx, ph.cfg.ChangeTimeout)
	obs, err := ph.clients.Wait(wctx, m.seq, ph.cfg.Proxies)
	cancel()
	m.row.Observed = len(obs)
	lat := make([]time.Duration, len(obs))
	for k, o := range obs {
		lat[k] = time.Duration(o.At - m.t0.UnixNano())
	}
	m.row.P50, m.row.P99, m.row.Max = percentiles(lat)
	if err != nil {
		return fmt.Errorf("%s phase, %s change: %w", ph.mode, m.ch.Name, err)
	}
	return nil
}

// Settle waits until the xDS server is quiet, then counts the push's bytes
// and checks the control plane's status shows every proxy's ACK.
func (m *Measurement) Settle(ctx context.Context) (Row, error) {
	ph := m.ph
	if err := ph.waitQuiet(ctx); err != nil {
		return m.row, err
	}
	d := ph.pushStats().Sub(m.before)
	m.row.Bytes, m.row.Responses = d.Bytes(ph.mode), d.Responses(ph.mode)
	m.row.Acked = ph.ackedSince(m.ch.TypeURL, m.t0)
	if m.row.Acked != ph.cfg.Proxies {
		return m.row, fmt.Errorf("%s phase, %s change: the control plane shows %d of %d proxies having ACKed a %s sent after the change", ph.mode, m.ch.Name, m.row.Acked, ph.cfg.Proxies, shortType(m.ch.TypeURL))
	}
	return m.row, nil
}

// ackedSince counts our proxies whose status shows the type ACKed at the
// version last sent, sent after t.
func (ph *Phase) ackedSince(typeURL string, t time.Time) int {
	n := 0
	for _, p := range ph.cp.XDS().Proxies() {
		ts, ok := p.Types[typeURL]
		if ph.ids[p.ID] && ok && ts.VersionAcked != "" && ts.VersionAcked == ts.VersionSent && !ts.SentAt.Before(t) {
			n++
		}
	}
	return n
}

// Close stops the proxies and the control plane.
func (ph *Phase) Close() error {
	var err error
	if ph.clients != nil {
		err = ph.clients.Close()
	}
	if ph.cp != nil {
		if cerr := ph.cp.Close(); err == nil {
			err = cerr
		}
	}
	if ph.dir != "" {
		os.RemoveAll(ph.dir)
	}
	return err
}
