package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/apply"
	"embassy.dev/embassy/pkg/dataplane"
	elog "embassy.dev/embassy/pkg/log"
	"embassy.dev/embassy/pkg/rollout"
	"embassy.dev/embassy/pkg/store"
	"embassy.dev/embassy/xds/cache"
	xdsserver "embassy.dev/embassy/xds/server"
)

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
	if err := c.openStore(ctx); err != nil {
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
	opts := []apply.Option{apply.WithCheck(c.checkMeshTrustDomain), apply.WithPolicyCompiler(c.authz.check)}
	if c.cfg.Discovery != nil {
		opts = append(opts, apply.WithOverlay(c.applyOverlay))
	}
	c.applier = apply.New(c.store, opts...)
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
func (c *ControlPlane) openStore(ctx context.Context) error {
	switch c.cfg.Store {
	case "", "bbolt":
		s, err := store.OpenBolt(c.cfg.DataDir)
		if err != nil {
			return err
		}
		c.store = s
	case "etcd":
		s, err := store.OpenEtcd(ctx, c.cfg.Etcd)
		if err != nil {
			return err
		}
		c.store = s
	case "memory":
		c.store = store.NewMemory()
	default:
		return fmt.Errorf("--store %q: expected bbolt, etcd or memory", c.cfg.Store)
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
		HoldEvery:  c.cfg.DebounceEvery,
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
	c.authz.jwks = c.newJWKSFetcher()
	if err := c.publish(c.runCtx); err != nil {
		return nil, err
	}
	// The publish named the key set URLs: compile the stored sets before
	// serving, so a restart never serves a policy without its keys.
	c.authz.jwks.ReadStored(c.runCtx)
	return revs, nil
}

// serve starts the gRPC server (xDS and, with TLS, the identity service),
// the HTTP API and the loops that follow the store, the key sets and the
// identity service. Nothing in it fails: serving errors reach Err.
func (c *ControlPlane) serve(revs <-chan int64) {
	opts := append([]grpc.ServerOption{
		grpc.MaxConcurrentStreams(1 << 20),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	}, xdsserver.ServerOptions()...)
	if !c.cfg.InsecureXDS {
		opts = append(opts, grpc.Creds(credentials.NewTLS(c.serverTLS.Config())))
	}
	c.grpc = grpc.NewServer(opts...)
	c.xds.Register(c.grpc)
	if c.identity != nil {
		c.identity.Register(c.grpc)
	}
	c.startFleet()
	c.http = &http.Server{Handler: api.NewHandler(c.apiOptions(c.baseAPIOptions())), ReadHeaderTimeout: 10 * time.Second}
	c.startLeadership()
	if c.identity != nil {
		c.goRun(func() { c.identity.Run(c.runCtx) })
	}
	c.goRun(func() { c.authz.jwks.Run(c.runCtx) })
	c.goRun(func() { c.watch(c.runCtx, revs) })
	if c.cfg.Discovery != nil {
		c.goRun(func() { c.followDiscovery(c.runCtx) })
	}
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
		Proxies:      c.proxyRegistry(),
		AdminToken:   c.adminToken,
		Ready:        c.readyErr,
		Logger:       c.cfg.Logger.Named(elog.API),
		Tokens:       c.tokens,
		Bundle:       c.trustBundle(),
		Certificates: c.certificates,
		InsecureXDS:  c.cfg.InsecureXDS,
		XDSAddress:   c.XDSAddr(),
		Changes:      c.changeSource(),
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
			dataplane.ControlPlaneID(c.ca.TrustDomain()), c.ca.TrustDomain().Name())
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
