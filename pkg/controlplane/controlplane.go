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

	"embassy.dev/embassy/pkg/apply"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/identity/service"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/rollout"
	"embassy.dev/embassy/pkg/store"
	"embassy.dev/embassy/policy/sandbox"
	xdsserver "embassy.dev/embassy/xds/server"
)

// Config is what embassy-cp's flags set.
type Config struct {
	// DataDir holds the embedded store and the admin token.
	DataDir string
	// Store is "bbolt" (default), "etcd" or "memory".
	Store string
	// Etcd says where the etcd store is, with Store "etcd".
	Etcd store.EtcdConfig
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
	// Debounce coalesces changes into pushes (default 100ms). The first
	// change after a quiet spell of one debounce is pushed at once,
	// unless DebounceEvery.
	Debounce time.Duration
	// DebounceEvery holds every change for the debounce.
	DebounceEvery bool
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
	// CAKeyEncryptionKeyFile names the key-encryption key file that seals
	// the CA's private keys in the store; required with the etcd store.
	CAKeyEncryptionKeyFile string
	// SPIRESocket makes SPIRE the mesh's CA, through the SPIRE agent's
	// Workload API on this unix socket; when empty, the stored Mesh's
	// ca.socketPath if its ca.type is spire. SPIRETimeout bounds the wait
	// for SPIRE's first answer at start (default 30s).
	SPIRESocket  string
	SPIRETimeout time.Duration
	// JWKSRefresh is how often the key sets AuthorizationPolicies name by
	// URL are fetched again (default 5m).
	JWKSRefresh time.Duration
	// JWKSClient fetches those key sets; nil is a client with a 10s
	// timeout. Set it for an identity provider behind a proxy or a
	// private CA.
	JWKSClient *http.Client
	// Rego bounds every piece of policy Rego the control plane runs
	// (compiles, partial evaluation, policy eval, /v1/check).
	Rego sandbox.Limits
	// LeaseTTL and LeaseSweepInterval bound agent registrations (defaults
	// 30s and 5s).
	LeaseTTL, LeaseSweepInterval time.Duration
	// Discovery, when set, adds a Kubernetes cluster's Services and
	// Workloads to the stored resources (see Discovery).
	Discovery Discovery
	// PodTokens, when set, lets agents attest with Kubernetes
	// service-account tokens (see service.Config.PodTokens).
	PodTokens service.PodTokenVerifier
	Logger    hclog.Logger
	// Out receives the start-up lines meant for the operator.
	Out io.Writer
}

// ControlPlane is a running embassy-cp.
type ControlPlane struct {
	cfg Config
	log hclog.Logger
	// leader says whether this replica runs the once-only duties.
	leader leadership
	// fleet is every replica's proxies, on etcd; nil alone on a store.
	fleet   *fleet
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
	// discoveryProblems are the Discovery problems already reported.
	discoveryProblems map[string]bool
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

func (c *ControlPlane) readyErr() error {
	if !c.ready.Load() {
		return errors.New("starting")
	}
	if c.spire != nil {
		if err := c.spire.healthy(time.Now()); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyStoreTimeout)
	defer cancel()
	return c.store.Ready(ctx)
}

// readyStoreTimeout bounds how long /readyz waits on the store: a probe
// must answer in time even when etcd does not.
const readyStoreTimeout = 2 * time.Second

func (c *ControlPlane) fail(err error) {
	if err == nil {
		return
	}
	c.errOnce.Do(func() { c.err <- err })
}

// publish reads the whole store and hands one snapshot to the xDS server.
// The store decodes only what changed since the last publish; the rest
// is shared with earlier snapshots, which is safe because nothing
// modifies a resource once it is decoded (see publish_test.go).
func (c *ControlPlane) publish(ctx context.Context) error {
	c.publishMu.Lock()
	defer c.publishMu.Unlock()
	rs, rev, err := c.store.ListShared(ctx)
	if err != nil {
		return fmt.Errorf("reading the store: %w", err)
	}
	snap := mesh.New(rev, c.overlay(rs, rev), mesh.WithAuthz(c.authz.compile), mesh.WithPrevious(c.snap.Load()))
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

// Applier exposes the applier, for the Kubernetes admission webhook to
// run the checks of an apply.
func (c *ControlPlane) Applier() *apply.Applier { return c.applier }

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
