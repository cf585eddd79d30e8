package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Observation is one proxy having received and ACKed an armed change.
type Observation struct {
	Seq   int `json:"seq"`
	Proxy int `json:"proxy"`
	// At is the wall clock, in Unix nanoseconds, right after the ACK went
	// out; the parent and the child process share the machine's clock.
	At int64 `json:"at"`
}

// Counters are totals over every proxy of a fleet.
type Counters struct {
	Responses int64 `json:"responses"`
	Nacks     int64 `json:"nacks"`
}

// Clients is a set of simulated proxies, in this process (*Fleet) or in a
// child process (*ChildFleet).
type Clients interface {
	// Connect opens every proxy's stream and returns once each holds its
	// whole configuration. progress is called about once a second.
	Connect(ctx context.Context, progress func(ready, total int)) error
	// Arm makes every proxy watch for a change of one resource and returns
	// the sequence number its observations carry.
	Arm(ctx context.Context, typeURL, name string) (int, error)
	// Wait returns the observations of seq, until n arrived or ctx ends
	// (then with an error and what arrived).
	Wait(ctx context.Context, seq, n int) ([]Observation, error)
	// Counters returns the fleet's totals.
	Counters(ctx context.Context) (Counters, error)
	// Close ends every stream.
	Close() error
	// CPU is the CPU time the proxies used, once closed; 0 when they run
	// in this process, where it is not told apart from the server's.
	CPU() time.Duration
}

// FleetConfig says what proxies to simulate and where to connect them.
type FleetConfig struct {
	// Addrs are the xDS addresses (127.0.0.1 ones) of the control plane's
	// processes; proxy k connects to Addrs[k % len(Addrs)].
	Addrs   []string `json:"addrs"`
	Mode    Mode     `json:"mode"`
	NodeIDs []string `json:"nodeIds"`
	// Conns is the number of gRPC connections to each address the streams
	// share.
	Conns int `json:"conns"`
	// Window bounds how many proxies are connecting (not yet fully
	// configured) at once, as a rollout would.
	Window int `json:"window"`
	// MinClusters is how many clusters a proxy must hold to count as
	// configured, so an empty first push does not count.
	MinClusters int `json:"minClusters"`
	// ScopedRoutes makes a proxy also subscribe to scopes (Scoped RDS),
	// as an Envoy whose listener names scoped_rds does.
	ScopedRoutes bool `json:"scopedRoutes"`
}

// Fleet runs simulated Envoy sidecars in this process, their streams
// multiplexed over a few gRPC connections.
type Fleet struct {
	cfg     FleetConfig
	dec     *decoder
	conns   []*grpc.ClientConn
	proxies []*proxy

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	readyCh chan int
	obs     chan Observation
	errOnce sync.Once
	errCh   chan error
	nacks   atomic.Int64
	seq     atomic.Int64
	closing atomic.Bool
}

// NewFleet dials the connections; streams open in Connect.
func NewFleet(cfg FleetConfig) (*Fleet, error) {
	if cfg.Mode != SotW && cfg.Mode != Delta {
		return nil, fmt.Errorf("mode %q: expected sotw or delta", cfg.Mode)
	}
	if cfg.Conns < 1 {
		cfg.Conns = 1
	}
	if cfg.Window < 1 {
		cfg.Window = len(cfg.NodeIDs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Fleet{
		cfg: cfg, dec: newDecoder(), ctx: ctx, cancel: cancel,
		readyCh: make(chan int, len(cfg.NodeIDs)),
		obs:     make(chan Observation, len(cfg.NodeIDs)),
		errCh:   make(chan error, 1),
	}
	if len(cfg.Addrs) == 0 {
		cancel()
		return nil, errors.New("no xDS address to connect the proxies to")
	}
	// conns[k] is a connection to Addrs[k % len(Addrs)], so proxy k's
	// connection, conns[k % len(conns)], is to its own address.
	for k := 0; k < cfg.Conns*len(cfg.Addrs); k++ {
		addr := cfg.Addrs[k%len(cfg.Addrs)]
		c, err := grpc.NewClient(addr,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30)),
			grpc.WithInitialWindowSize(envoyStreamWindow), grpc.WithInitialConnWindowSize(envoyConnWindow))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("dialing %s: %w", addr, err)
		}
		f.conns = append(f.conns, c)
	}
	for k, id := range cfg.NodeIDs {
		f.proxies = append(f.proxies, newProxy(f, k, id))
	}
	return f, nil
}

// Connect implements Clients.
func (f *Fleet) Connect(ctx context.Context, progress func(ready, total int)) error {
	total := len(f.proxies)
	window := make(chan struct{}, f.cfg.Window)
	done := make(chan struct{})
	defer close(done)
	// The launcher holds a count on wg while it adds the proxies', so
	// Close's Wait never races an Add from zero.
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for k, p := range f.proxies {
			select {
			case window <- struct{}{}:
			case <-done:
				return
			case <-f.ctx.Done():
				return
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.run(p, f.conns[k%len(f.conns)])
			}()
		}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for ready := 0; ready < total; {
		select {
		case <-f.readyCh:
			ready++
			<-window
		case err := <-f.errCh:
			return err
		case <-tick.C:
			if progress != nil {
				progress(ready, total)
			}
		case <-ctx.Done():
			return fmt.Errorf("%d of %d proxies fully configured when %w; first one waiting: %s", ready, total, ctx.Err(), f.firstNotReady())
		}
	}
	if progress != nil {
		progress(total, total)
	}
	return nil
}

func (f *Fleet) firstNotReady() string {
	for _, p := range f.proxies {
		p.mu.Lock()
		r := p.ready
		p.mu.Unlock()
		if !r {
			return p.missing()
		}
	}
	return "none"
}

func (f *Fleet) run(p *proxy, conn *grpc.ClientConn) {
	var err error
	if f.cfg.Mode == SotW {
		err = p.runSotW(f.ctx, conn)
	} else {
		err = p.runDelta(f.ctx, conn)
	}
	if f.closing.Load() || f.ctx.Err() != nil {
		return
	}
	f.fail(fmt.Errorf("proxy %s: %s stream ended: %w", p.node.Id, f.cfg.Mode, err))
}

func (f *Fleet) fail(err error) {
	f.errOnce.Do(func() { f.errCh <- err })
}

func (f *Fleet) proxyReady(int) { f.readyCh <- 0 }

func (f *Fleet) nack() { f.nacks.Add(1) }

func (f *Fleet) observe(o Observation) {
	select {
	case f.obs <- o:
	case <-f.ctx.Done():
	}
}

// Arm implements Clients.
func (f *Fleet) Arm(_ context.Context, typeURL, name string) (int, error) {
	seq := int(f.seq.Add(1))
	for _, p := range f.proxies {
		if err := p.arm(seq, typeURL, name); err != nil {
			return 0, err
		}
	}
	return seq, nil
}

// Wait implements Clients.
func (f *Fleet) Wait(ctx context.Context, seq, n int) ([]Observation, error) {
	var out []Observation
	for len(out) < n {
		select {
		case o := <-f.obs:
			if o.Seq == seq {
				out = append(out, o)
			}
		case err := <-f.errCh:
			return out, err
		case <-ctx.Done():
			return out, fmt.Errorf("%d of %d proxies saw the change when %w", len(out), n, ctx.Err())
		}
	}
	return out, nil
}

// Counters implements Clients.
func (f *Fleet) Counters(context.Context) (Counters, error) {
	c := Counters{Nacks: f.nacks.Load()}
	for _, p := range f.proxies {
		p.mu.Lock()
		c.Responses += p.responses
		p.mu.Unlock()
	}
	return c, nil
}

// CPU implements Clients.
func (f *Fleet) CPU() time.Duration { return 0 }

// Close implements Clients.
func (f *Fleet) Close() error {
	f.closing.Store(true)
	f.cancel()
	var errs []error
	for _, c := range f.conns {
		errs = append(errs, c.Close())
	}
	waited := make(chan struct{})
	go func() { f.wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		errs = append(errs, errors.New("proxy streams did not end within 10s of closing"))
	}
	return errors.Join(errs...)
}
