// Package controlplane wires embassy-cp together: the store, the mesh
// snapshots it yields, the xDS server they feed, the mesh CA and the
// identity service on the (TLS) xDS listener, and the HTTP API. The binary
// and the end-to-end tests start it the same way.
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/apply"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/identity/service"
	elog "embassy.dev/embassy/pkg/log"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/rollout"
	"embassy.dev/embassy/pkg/store"
	"embassy.dev/embassy/policy/sandbox"
	"embassy.dev/embassy/xds/cache"
	xdsserver "embassy.dev/embassy/xds/server"
)

// Config is what embassy-cp's flags set.
type Config struct {
	// DataDir holds the embedded store and the admin token.
	DataDir string
	// Store is "bbolt" (default) or "memory".
	Store string
	// XDSAddr and APIAddr are listen addresses; port 0 picks a free port.
	XDSAddr string
	APIAddr string
	// AdminTokenFile, when set, is read instead of making a token.
	AdminTokenFile string
	// ReadTokenFile, when set, is read instead of making
	// <data-dir>/read-token.
	ReadTokenFile string
	// AnonymousReads lets tokenless loopback clients read; Start refuses
	// it unless APIAddr is a loopback address.
	AnonymousReads bool
	// APIHosts are names, besides loopback ones, that API requests may
	// carry in their Host header.
	APIHosts []string
	// StaleAfter is how long an unacked version waits before its proxy is
	// STALE (default 10s).
	StaleAfter time.Duration
	// EventBuffer is how many recent events /v1/events keeps (default 1000).
	EventBuffer int
	// Debounce coalesces changes into pushes (default 100ms).
	Debounce time.Duration
	// InsecureXDS serves xDS in plaintext, without client certificates or
	// the identity service: for local development only.
	InsecureXDS bool
	// XDSServerNames are extra DNS names or IPs for the xDS listener's
	// certificate, besides the listen host, 127.0.0.1, ::1 and localhost.
	XDSServerNames []string
	// TrustDomain is the trust domain of a data dir's new CA; when empty,
	// the stored Mesh's, else the stored CA's, else embassy.local. A stored
	// Mesh or CA of another trust domain makes Start fail, since neither
	// can move to another.
	TrustDomain string
	// CACertFile and CAKeyFile select a provided CA instead of the Mesh's.
	CACertFile, CAKeyFile string
	// SPIRESocket makes SPIRE the mesh's CA, through the SPIRE agent's
	// Workload API on this unix socket; when empty, the stored Mesh's
	// ca.socketPath if its ca.type is spire. SPIRETimeout bounds the wait
	// for SPIRE's first answer at start (default 30s).
	SPIRESocket  string
	SPIRETimeout time.Duration
	// JWKSRefresh is how often the key sets AuthorizationPolicies name by
	// URL are fetched again (default 5m).
	JWKSRefresh time.Duration
	// Rego bounds every piece of policy Rego the control plane runs
	// (compiles, partial evaluation, policy eval, /v1/check).
	Rego sandbox.Limits
	// LeaseTTL and LeaseSweepInterval bound agent registrations (defaults
	// 30s and 5s).
	LeaseTTL, LeaseSweepInterval time.Duration
	Logger                       hclog.Logger
	// Out receives the start-up lines meant for the operator.
	Out io.Writer
}

// ControlPlane is a running embassy-cp.
type ControlPlane struct {
	cfg     Config
	log     hclog.Logger
	store   store.Store
	applier *apply.Applier
	xds     *xdsserver.Server
	snap    atomic.Pointer[mesh.Snapshot]
	// authz compiles AuthorizationPolicies once per spec for snapshots.
	authz *authzCache
	// publishMu orders publishes: store changes and new JWKS keys both
	// publish, and the later one must not be overtaken by the earlier.
	publishMu sync.Mutex
	// changes follows each apply to the proxies' answers.
	changes *rollout.Tracker
	// ca and tokens are always loaded; serverTLS and identity only when
	// xDS is TLS.
	ca *identity.CA
	// trust verifies client certificates: the CA's bundle, and SPIRE's
	// when spire is set (SPIRE is the mesh's CA).
	trust x509bundle.Source
	spire *spireSource
	// caWarned is the Mesh CA type last warned about (see noteCAChange).
	caWarned  string
	tokens    *identity.Tokens
	serverTLS *service.ServerTLS
	identity  *service.Service
	obs       observability
	grpc      *grpc.Server
	http      *http.Server
	xdsLis    net.Listener
	apiLis    net.Listener
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	ready     atomic.Bool
	errOnce   sync.Once
	err       chan error
}

// Start opens the store, loads what it holds into the xDS server and starts
// serving xDS and the API. It returns once both listeners are bound.
func Start(ctx context.Context, cfg Config) (*ControlPlane, error) {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Debounce == 0 {
		cfg.Debounce = 100 * time.Millisecond
	}
	c := &ControlPlane{cfg: cfg, log: cfg.Logger.Named(elog.ControlPlane), err: make(chan error, 1), authz: newAuthzCache(nil)}
	var err error
	switch cfg.Store {
	case "", "bbolt":
		c.store, err = store.OpenBolt(cfg.DataDir)
	case "memory":
		c.store = store.NewMemory()
	default:
		err = fmt.Errorf("--store %q: expected bbolt or memory", cfg.Store)
	}
	if err != nil {
		return nil, err
	}
	token, tokenPath, created, err := api.EnsureAdminToken(cfg.DataDir, cfg.AdminTokenFile)
	if err != nil {
		c.store.Close()
		return nil, err
	}
	if created {
		fmt.Fprintf(cfg.Out, "embassy-cp: created the admin token in %s (pass it with embassyctl --token-file)\n", tokenPath)
	} else {
		fmt.Fprintf(cfg.Out, "embassy-cp: admin token read from %s\n", tokenPath)
	}

	if err := c.setupObservability(); err != nil {
		c.store.Close()
		return nil, err
	}
	if err := c.setupRego(); err != nil {
		c.store.Close()
		return nil, err
	}

	c.applier = apply.New(c.store, apply.WithCheck(c.checkMeshTrustDomain), apply.WithPolicyCompiler(c.authz.check))
	c.changes = rollout.NewTracker()
	if err := c.startIdentity(ctx); err != nil {
		if c.spire != nil {
			c.spire.close()
		}
		c.store.Close()
		return nil, err
	}
	xcfg := xdsserver.Config{
		Logger:     cfg.Logger.Named(elog.XDS),
		Debounce:   cfg.Debounce,
		Translator: cache.DefaultTranslator(),
		Events:     c.obs.events,
		Metrics:    c.obs.metrics,
		Changes:    c.changes,
	}
	if !cfg.InsecureXDS {
		xcfg.Authorizer = c.authorizeStream
	}
	c.xds = xdsserver.New(xcfg)
	if c.xdsLis, err = net.Listen("tcp", cfg.XDSAddr); err != nil {
		c.closeEarly()
		return nil, fmt.Errorf("--xds-addr %s: %w", cfg.XDSAddr, err)
	}
	if c.apiLis, err = net.Listen("tcp", cfg.APIAddr); err != nil {
		c.closeEarly()
		return nil, fmt.Errorf("--api-addr %s: %w", cfg.APIAddr, err)
	}

	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	// Subscribe before the first read, so no commit made after Start
	// returns can slip between the two.
	revs := c.store.Watch(runCtx)
	// A changed key set recompiles the policies naming it and pushes them.
	c.authz.jwks = NewJWKSFetcher(JWKSOptions{
		Refresh: cfg.JWKSRefresh,
		Logger:  cfg.Logger.Named("jwks"),
		OnChange: func() {
			if err := c.publish(runCtx); err != nil && runCtx.Err() == nil {
				c.log.Error("publishing new JWKS keys failed", "error", err)
			}
		},
	})
	// Load what the store holds before serving, so a restarted control
	// plane answers its first xDS request with the configuration it had.
	if err := c.publish(runCtx); err != nil {
		cancel()
		c.closeEarly()
		return nil, err
	}
	opts := []grpc.ServerOption{
		grpc.MaxConcurrentStreams(1 << 20),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	}
	if !cfg.InsecureXDS {
		opts = append(opts, grpc.Creds(credentials.NewTLS(c.serverTLS.Config())))
	}
	c.grpc = grpc.NewServer(opts...)
	c.xds.Register(c.grpc)
	if c.identity != nil {
		c.identity.Register(c.grpc)
	}
	c.http = &http.Server{
		Handler: api.NewHandler(c.apiOptions(api.Options{
			Store:        c.store,
			Applier:      c.applier,
			Proxies:      c.xds,
			AdminToken:   token,
			Ready:        c.readyErr,
			Logger:       cfg.Logger.Named(elog.API),
			Tokens:       c.tokens,
			Bundle:       c.trustBundle(),
			Certificates: c.certificates,
			InsecureXDS:  cfg.InsecureXDS,
			XDSAddress:   c.XDSAddr(),
			Changes:      c.changes,
			Authz:        c.authz.compile,
			Backup:       c.storeBackup(),
		})),
		ReadHeaderTimeout: 10 * time.Second,
	}
	c.wg.Add(3)
	if c.identity != nil {
		c.wg.Add(1)
		go func() { defer c.wg.Done(); c.identity.Run(runCtx) }()
	}
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.authz.jwks.Run(runCtx) }()
	go func() { defer c.wg.Done(); c.watch(runCtx, revs) }()
	go func() { defer c.wg.Done(); c.fail(c.grpc.Serve(c.xdsLis)) }()
	go func() {
		defer c.wg.Done()
		if err := c.http.Serve(c.apiLis); !errors.Is(err, http.ErrServerClosed) {
			c.fail(err)
		}
	}()
	c.ready.Store(true)
	if cfg.InsecureXDS {
		fmt.Fprintln(cfg.Out, insecureWarning)
		c.log.Warn("xDS is served in plaintext without client certificates (--insecure-xds); the identity service is off")
	} else {
		fmt.Fprintf(cfg.Out, "embassy-cp: xDS is TLS for %s (trust domain %s); agents trust it with: embassyctl bundle > bundle.pem\n",
			dataplane.ControlPlaneID(c.ca.TrustDomain()), c.ca.TrustDomain().Name())
		if c.spire != nil {
			fmt.Fprintf(cfg.Out, "embassy-cp: SPIRE is the mesh's CA: the xDS certificate and the trust bundle come from the SPIRE agent at %s; agents take their SVIDs with embassy-agent --spire-socket\n", c.spire.socket)
		}
	}
	fmt.Fprintf(cfg.Out, "embassy-cp: serving xDS on %s and the API on http://%s (store %s at revision %d)\n",
		c.xdsLis.Addr(), c.apiLis.Addr(), c.store.Kind(), c.store.Revision())
	return c, nil
}

func (c *ControlPlane) closeEarly() {
	for _, l := range []net.Listener{c.xdsLis, c.apiLis} {
		if l != nil {
			l.Close()
		}
	}
	if c.xds != nil {
		c.xds.Close()
	}
	if c.spire != nil {
		c.spire.close()
	}
	c.store.Close()
}

func (c *ControlPlane) readyErr() error {
	if !c.ready.Load() {
		return errors.New("starting")
	}
	if c.spire != nil {
		return c.spire.healthy(time.Now())
	}
	return nil
}

func (c *ControlPlane) fail(err error) {
	if err == nil {
		return
	}
	c.errOnce.Do(func() { c.err <- err })
}

// publish reads the whole store and hands one snapshot to the xDS server.
func (c *ControlPlane) publish(ctx context.Context) error {
	c.publishMu.Lock()
	defer c.publishMu.Unlock()
	rs, rev, err := c.store.List(ctx, "")
	if err != nil {
		return fmt.Errorf("reading the store: %w", err)
	}
	snap := mesh.New(rev, rs, mesh.WithAuthz(c.authz.compile))
	c.authz.prune(snap)
	if c.authz.jwks != nil {
		c.authz.jwks.Retain(jwksURLs(snap))
	}
	c.servedTrustDomain(snap)
	c.noteCAChange(snap)
	c.snap.Store(snap)
	c.xds.Update(snap)
	return nil
}

// watch republishes after every store change. The store's watch coalesces,
// and the xDS server debounces, so a burst of applies is one push.
func (c *ControlPlane) watch(ctx context.Context, revs <-chan int64) {
	for range revs {
		if err := c.publish(ctx); err != nil && ctx.Err() == nil {
			c.log.Error("publishing a store change failed", "error", err)
		}
	}
}

// snapshot is the last published mesh snapshot.
func (c *ControlPlane) snapshot() *mesh.Snapshot {
	if s := c.snap.Load(); s != nil {
		return s
	}
	return mesh.New(0, nil)
}

// CA exposes the mesh CA, for tests and the benchmark.
func (c *ControlPlane) CA() *identity.CA { return c.ca }

// Tokens exposes the join tokens, for tests and the benchmark.
func (c *ControlPlane) Tokens() *identity.Tokens { return c.tokens }

// XDSAddr is where xDS is served.
func (c *ControlPlane) XDSAddr() string { return c.xdsLis.Addr().String() }

// APIAddr is where the HTTP API is served.
func (c *ControlPlane) APIAddr() string { return c.apiLis.Addr().String() }

// Store exposes the store, for tests.
func (c *ControlPlane) Store() store.Store { return c.store }

// XDS exposes the xDS server, for tests and the benchmark.
func (c *ControlPlane) XDS() *xdsserver.Server { return c.xds }

// Err receives the first fatal serving error.
func (c *ControlPlane) Err() <-chan error { return c.err }

// Close stops serving and closes the store. Streams are cut after a short
// grace period so a restart is quick.
func (c *ControlPlane) Close() error {
	c.ready.Store(false)
	c.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c.http.Shutdown(ctx)
	done := make(chan struct{})
	go func() { c.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		c.grpc.Stop()
	}
	c.xds.Close()
	if c.spire != nil {
		c.spire.close()
	}
	err := c.store.Close()
	c.wg.Wait()
	return err
}
