package bench

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

// Run runs every phase of cfg in turn: for each run, each mode, each
// server, alternating which server goes first from one run to the next so
// that neither always has the warmer machine.
func Run(ctx context.Context, cfg Config) ([]PhaseResult, error) {
	var out []PhaseResult
	servers := cfg.Servers
	if len(servers) == 0 {
		servers = []Server{Embassy}
	}
	for run := 0; run < max(cfg.Runs, 1); run++ {
		for _, m := range cfg.Modes {
			for k := range servers {
				s := servers[(k+run)%len(servers)]
				res, err := runPhase(ctx, cfg, s, m)
				res.Run = run + 1
				out = append(out, res)
				if err != nil {
					return out, err
				}
			}
		}
	}
	return out, nil
}

func runPhase(ctx context.Context, cfg Config, s Server, m Mode) (PhaseResult, error) {
	ph, err := StartPhase(ctx, cfg, s, m)
	if err != nil {
		return PhaseResult{Server: s, Mode: m, Proxies: cfg.Proxies, Services: cfg.Mesh.Services}, err
	}
	res, err := ph.measureAll(ctx)
	if ph.srv != nil {
		res.ServerCPU = ph.srv.CPU() - ph.cpu0
	}
	if cerr := ph.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("%s %s phase: closing: %w", s, m, cerr)
	}
	res.FleetCPU = ph.clients.CPU()
	// A long run's figures reach the log as each phase ends, so an
	// interrupted run still tells what it measured.
	line := fmt.Sprintf("%s %s: done: heap/proxy %s, configured in %s", s, m, size(res.HeapPerProxy()), ms(res.Connect))
	for _, r := range res.Rows {
		line += fmt.Sprintf(", %s p50 %s p99 %s %s/proxy", r.Change, ms(r.P50), ms(r.P99), size(r.BytesPerProxy()))
	}
	cfg.logf("%s", line)
	return res, err
}

// Phase is a server with a seeded mesh and connected proxies.
type Phase struct {
	cfg     Config
	server  Server
	mode    Mode
	srv     target
	clients Clients
	ids     map[string]bool
	cpu0    time.Duration
	Result  PhaseResult
}

func (c Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// StartPhase starts server s, seeds the mesh, and connects cfg.Proxies
// proxies speaking mode.
func StartPhase(ctx context.Context, cfg Config, s Server, mode Mode) (ph *Phase, err error) {
	ids, err := cfg.Mesh.NodeIDs(cfg.Proxies)
	if err != nil {
		return nil, err
	}
	ph = &Phase{cfg: cfg, server: s, mode: mode, ids: map[string]bool{},
		Result: PhaseResult{Server: s, Mode: mode, Proxies: cfg.Proxies, Services: cfg.Mesh.Services}}
	for _, id := range ids {
		ph.ids[id] = true
	}
	defer func() {
		if err != nil {
			ph.Close()
			ph = nil
		}
	}()
	if ph.srv, ph.Result.Seed, err = startTarget(ctx, cfg, s); err != nil {
		return ph, err
	}
	before, err := ph.srv.Heaps()
	if err != nil {
		return ph, err
	}
	if err := ph.srv.Expect(ctx, ids); err != nil {
		return ph, err
	}

	fc := FleetConfig{Addrs: ph.srv.XDSAddrs(), Mode: mode, NodeIDs: ids, Conns: cfg.Conns, Window: cfg.Window, MinClusters: cfg.Mesh.MinClusters(), ScopedRoutes: cfg.Mesh.ScopedRoutes()}
	newClients := cfg.NewClients
	if newClients == nil {
		newClients = func(fc FleetConfig) (Clients, error) { return NewFleet(fc) }
	}
	if ph.clients, err = newClients(fc); err != nil {
		return ph, err
	}
	sent := ph.srv.Stats()
	ph.cpu0 = ph.srv.CPU()
	cfg.logf("%s %s: connecting %d proxies...", s, mode, cfg.Proxies)
	cctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	start := time.Now()
	err = ph.clients.Connect(cctx, func(ready, total int) {
		cfg.logf("%s %s: connecting %d proxies... %d/%d", s, mode, total, ready, total)
	})
	if err != nil {
		return ph, fmt.Errorf("%s %s phase: connecting: %w", s, mode, err)
	}
	ph.Result.Connect = time.Since(start)
	if err := ph.waitQuiet(ctx); err != nil {
		return ph, err
	}
	ph.Result.ConnectBytes = ph.srv.Stats().Sub(sent).Bytes(mode)
	after, err := ph.srv.Heaps()
	if err != nil {
		return ph, err
	}
	perProcess := ph.srv.Connected(ph.ids, mode)
	ph.Result.setHeaps(before, after, perProcess)
	if ph.Result.EtcdHeap, err = ph.srv.StoreHeap(); err != nil {
		return ph, err
	}
	if n := sumInts(perProcess); n != cfg.Proxies {
		return ph, fmt.Errorf("%s %s phase: the server lists %d of our %d proxies as connected over %s", s, mode, n, cfg.Proxies, mode)
	}
	cfg.logf("%s %s: %d proxies configured in %v", s, mode, cfg.Proxies, ph.Result.Connect.Round(time.Millisecond))
	return ph, nil
}

func sumInts(vs []int) int {
	n := 0
	for _, v := range vs {
		n += v
	}
	return n
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

// waitQuiet waits until the xDS server has sent nothing for a while, so a
// measurement neither includes the previous push's tail nor starts before
// it ended. It gives up quietly after 30s: a server that never stops
// sending shows in the numbers.
func (ph *Phase) waitQuiet(ctx context.Context) error {
	quiet := max(2*ph.cfg.Debounce, 200*time.Millisecond)
	deadline := time.Now().Add(30 * time.Second)
	last, since := ph.srv.Stats(), time.Now()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		cur := ph.srv.Stats()
		if cur != last {
			last, since = cur, time.Now()
			continue
		}
		if time.Since(since) >= quiet {
			return nil
		}
	}
	ph.cfg.logf("%s %s: the xDS server was still sending after 30s; measuring anyway", ph.server, ph.mode)
	return nil
}

func (ph *Phase) measureAll(ctx context.Context) (PhaseResult, error) {
	changes := []Change{ph.cfg.Mesh.EndpointChange(0), ph.cfg.Mesh.RouteChange(0)}
	if ph.cfg.SkipChanges {
		changes = nil
	}
	for _, ch := range changes {
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
		return ph.Result, fmt.Errorf("%s %s phase: the proxies NACKed %d responses", ph.server, ph.mode, cs.Nacks)
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
	m := &Measurement{ph: ph, ch: ch, row: Row{Server: ph.server, Mode: ph.mode, Proxies: ph.cfg.Proxies, Services: ph.cfg.Mesh.Services, Change: ch.Name}}
	var err error
	if m.seq, err = ph.clients.Arm(ctx, ch.TypeURL, ch.Resource); err != nil {
		return m, fmt.Errorf("%s %s phase, %s change: %w", ph.server, ph.mode, ch.Name, err)
	}
	m.before = ph.srv.Stats()
	return m, nil
}

// Push commits the change and waits until every proxy reported it, or
// the phase's ChangeTimeout.
func (m *Measurement) Push(ctx context.Context) error {
	ph := m.ph
	ph.cfg.logf("%s %s: %s change, waiting for %d proxies...", ph.server, ph.mode, m.ch.Name, ph.cfg.Proxies)
	m.t0 = time.Now()
	if err := ph.srv.Commit(ctx, m.ch.Ops); err != nil {
		return fmt.Errorf("%s %s phase, %s change: committing: %w", ph.server, ph.mode, m.ch.Name, err)
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
		return fmt.Errorf("%s %s phase, %s change: %w", ph.server, ph.mode, m.ch.Name, err)
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
	d := ph.srv.Stats().Sub(m.before)
	m.row.Bytes, m.row.Responses = d.Bytes(ph.mode), d.Responses(ph.mode)
	if err := ph.srv.Err(); err != nil {
		return m.row, err
	}
	// A simulated proxy counts its ACK once sent; the server records it
	// once read. Wait for the server to have read them all (bounded),
	// rather than read its status once and call the lag a failure.
	deadline := time.Now().Add(ph.cfg.ChangeTimeout)
	for {
		m.row.Acked = ph.srv.AckedSince(ph.ids, m.ch.TypeURL, m.t0)
		if m.row.Acked == ph.cfg.Proxies || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if m.row.Acked != ph.cfg.Proxies {
		return m.row, fmt.Errorf("%s %s phase, %s change: the server shows %d of %d proxies having ACKed a %s sent after the change", ph.server, ph.mode, m.ch.Name, m.row.Acked, ph.cfg.Proxies, shortType(m.ch.TypeURL))
	}
	return m.row, nil
}

// Close stops the proxies and the server.
func (ph *Phase) Close() error {
	var err error
	if ph.clients != nil {
		err = ph.clients.Close()
	}
	if ph.srv != nil {
		if cerr := ph.srv.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
