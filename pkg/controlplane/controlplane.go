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
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/identity/service"
	elog "embassy.dev/embassy/pkg/log"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/rollout"
	"embassy.dev/embassy/pkg/spiffe"
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
	// adminToken authorizes the API's writes.
	adminToken string
	// runCtx lives from the first publish to Close; cancel ends it.
	runCtx  context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	ready   atomic.Bool
	errOnce sync.Once
	err     chan error
}

// Start opens the store, loads what it holds into the xDS server and starts
// serving xDS and the API. It returns once both listeners are bound.
func Start(ctx context.Context, cfg Config) (*ControlPlane, error) {
	c := newControlPlane(cfg)
	revs, err := c.start(ctx)
	if err != nil {
		c.abort()
		return nil, err
	}
	c.serve(revs)
	c.announce()
	return c, nil
}

// newControlPlane fills in the defaults Start relies on.
func newControlPlane(cfg Config) *ControlPlane {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Debounce == 0 {
		cfg.Debounce = 100 * time.Millisecond
	}
	return &ControlPlane{cfg: cfg, log: cfg.Logger.Named(elog.ControlPlane), err: make(chan error, 1), authz: newAuthzCache(nil)}
}

// start runs the steps that can fail, in order. Each leaves what it opened
// in c, so that abort, the one cleanup path, undoes whatever prefix of them
// ran. It returns the store's revisions, subscribed to before the first
// publish.
func (c *ControlPlane) start(ctx context.Context) (<-chan int64, error) {
	if err := c.openStore(); err != nil {
		return nil, err
	}
	if err := c.loadAdminToken(); err != nil {
		return nil, err
	}
	if err := c.setupObservability(); err != nil {
		return nil, err
	}
	if err := c.setupRego(); err != nil {
		return nil, err
	}
	c.applier = apply.New(c.store, apply.WithCheck(c.checkMeshTrustDomain), apply.WithPolicyCompiler(c.authz.check))
	c.changes = rollout.NewTracker()
	if err := c.startIdentity(ctx); err != nil {
		return nil, err
	}
	c.newXDS()
	if err := c.listen(); err != nil {
		return nil, err
	}
	return c.load()
}

// openStore opens the store --store names.
func (c *ControlPlane) openStore() error {
	switch c.cfg.Store {
	case "", "bbolt":
		s, err := store.OpenBolt(c.cfg.DataDir)
		if err != nil {
			return err
		}
		c.store = s
	case "memory":
		c.store = store.NewMemory()
	default:
		return fmt.Errorf("--store %q: expected bbolt or memory", c.cfg.Store)
	}
	return nil
}

// loadAdminToken reads or makes the admin token, printing its path, never
// the token.
func (c *ControlPlane) loadAdminToken() error {
	token, tokenPath, created, err := api.EnsureAdminToken(c.cfg.DataDir, c.cfg.AdminTokenFile)
	if err != nil {
		return err
	}
	c.adminToken = token
	if created {
		fmt.Fprintf(c.cfg.Out, "embassy-cp: created the admin token in %s (pass it with embassyctl --token-file)\n", tokenPath)
	} else {
		fmt.Fprintf(c.cfg.Out, "embassy-cp: admin token read from %s\n", tokenPath)
	}
	return nil
}

// newXDS makes the xDS server; without --insecure-xds a stream gets only
// the configuration of the identity its certificate proves.
func (c *ControlPlane) newXDS() {
	xcfg := xdsserver.Config{
		Logger:     c.cfg.Logger.Named(elog.XDS),
		Debounce:   c.cfg.Debounce,
		Translator: cache.DefaultTranslator(),
		Events:     c.obs.events,
		Metrics:    c.obs.metrics,
		Changes:    c.changes,
	}
	if !c.cfg.InsecureXDS {
		xcfg.Authorizer = c.authorizeStream
	}
	c.xds = xdsserver.New(xcfg)
}

// listen binds the xDS and API listeners.
func (c *ControlPlane) listen() error {
	var err error
	if c.xdsLis, err = net.Listen("tcp", c.cfg.XDSAddr); err != nil {
		return fmt.Errorf("--xds-addr %s: %w", c.cfg.XDSAddr, err)
	}
	if c.apiLis, err = net.Listen("tcp", c.cfg.APIAddr); err != nil {
		return fmt.Errorf("--api-addr %s: %w", c.cfg.APIAddr, err)
	}
	return nil
}

// load publishes what the store holds before serving, so a restarted
// control plane answers its first xDS request with the configuration it
// had. It subscribes to the store first, so no commit made after Start
// returns can slip between the two.
func (c *ControlPlane) load() (<-chan int64, error) {
	c.runCtx, c.cancel = context.WithCancel(context.Background())
	revs := c.store.Watch(c.runCtx)
	// A changed key set recompiles the policies naming it and pushes them.
	c.authz.jwks = NewJWKSFetcher(JWKSOptions{
		Refresh: c.cfg.JWKSRefresh,
		Logger:  c.cfg.Logger.Named("jwks"),
		OnChange: func() {
			if err := c.publish(c.runCtx); err != nil && c.runCtx.Err() == nil {
				c.log.Error("publishing new JWKS keys failed", "error", err)
			}
		},
	})
	if err := c.publish(c.runCtx); err != nil {
		return nil, err
	}
	return revs, nil
}

// serve starts the gRPC server (xDS and, with TLS, the identity service),
// the HTTP API and the loops that follow the store, the key sets and the
// identity service. Nothing in it fails: serving errors reach Err.
func (c *ControlPlane) serve(revs <-chan int64) {
	opts := []grpc.ServerOption{
		grpc.MaxConcurrentStreams(1 << 20),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	}
	if !c.cfg.InsecureXDS {
		opts = append(opts, grpc.Creds(credentials.NewTLS(c.serverTLS.Config())))
	}
	c.grpc = grpc.NewServer(opts...)
	c.xds.Register(c.grpc)
	if c.identity != nil {
		c.identity.Register(c.grpc)
	}
	c.http = &http.Server{Handler: api.NewHandler(c.apiOptions(c.baseAPIOptions())), ReadHeaderTimeout: 10 * time.Second}
	if c.identity != nil {
		c.goRun(func() { c.identity.Run(c.runCtx) })
	}
	c.goRun(func() { c.authz.jwks.Run(c.runCtx) })
	c.goRun(func() { c.watch(c.runCtx, revs) })
	c.goRun(func() { c.fail(c.grpc.Serve(c.xdsLis)) })
	c.goRun(func() {
		if err := c.http.Serve(c.apiLis); !errors.Is(err, http.ErrServerClosed) {
			c.fail(err)
		}
	})
	c.ready.Store(true)
}

// goRun runs f in a goroutine Close waits for.
func (c *ControlPlane) goRun(f func()) {
	c.wg.Add(1)
	go func() { defer c.wg.Done(); f() }()
}

// baseAPIOptions are the API's store, write and identity sources;
// apiOptions adds the status sources.
func (c *ControlPlane) baseAPIOptions() api.Options {
	return api.Options{
		Store:        c.store,
		Applier:      c.applier,
		Proxies:      c.xds,
		AdminToken:   c.adminToken,
		Ready:        c.readyErr,
		Logger:       c.cfg.Logger.Named(elog.API),
		Tokens:       c.tokens,
		Bundle:       c.trustBundle(),
		Certificates: c.certificates,
		InsecureXDS:  c.cfg.InsecureXDS,
		XDSAddress:   c.XDSAddr(),
		Changes:      c.changes,
		Authz:        c.authz.compile,
		Backup:       c.storeBackup(),
	}
}

// announce tells the operator how xDS is secured and where everything is
// served.
func (c *ControlPlane) announce() {
	out := c.cfg.Out
	if c.cfg.InsecureXDS {
		fmt.Fprintln(out, insecureWarning)
		c.log.Warn("xDS is served in plaintext without client certificates (--insecure-xds); the identity service is off")
	} else {
		fmt.Fprintf(out, "embassy-cp: xDS is TLS for %s (trust domain %s); agents trust it with: embassyctl bundle > bundle.pem\n",
			spiffe.ControlPlaneID(c.ca.TrustDomain()), c.ca.TrustDomain().Name())
		if c.spire != nil {
			fmt.Fprintf(out, "embassy-cp: SPIRE is the mesh's CA: the xDS certificate and the trust bundle come from the SPIRE agent at %s; agents take their SVIDs with embassy-agent --spire-socket\n", c.spire.socket)
		}
	}
	fmt.Fprintf(out, "embassy-cp: serving xDS on %s and the API on http://%s (store %s at revision %d)\n",
		c.xdsLis.Addr(), c.apiLis.Addr(), c.store.Kind(), c.store.Revision())
}

// abort is the one cleanup path of a failed start: it closes whatever
// start had opened, the latest first.
func (c *ControlPlane) abort() {
	if c.cancel != nil {
		c.cancel()
	}
	for _, l := range []net.Listener{c.apiLis, c.xdsLis} {
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
	if c.store != nil {
		c.store.Close()
	}
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
