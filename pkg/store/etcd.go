package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"embassy.dev/embassy/pkg/resource"
)

// Limits of one etcd request, as etcd's own defaults (--max-txn-ops and
// --max-request-bytes). A store configured below the server's real limits
// only splits commits sooner.
const (
	DefaultEtcdMaxTxnOps       = 128
	DefaultEtcdMaxRequestBytes = 1536 * 1024
	// DefaultEtcdRequestTimeout bounds each call to etcd, so that a dead
	// or partitioned etcd turns into ErrUnavailable, not a hung request.
	DefaultEtcdRequestTimeout = 5 * time.Second
	// reconnectMaxDelay bounds the pause between two attempts to reach an
	// etcd endpoint that is down.
	reconnectMaxDelay = time.Second
)

// EtcdConfig says how to reach the etcd cluster that holds a store.
type EtcdConfig struct {
	// Endpoints are the etcd client URLs (http://host:port or
	// https://host:port); with Embedded set, the embedded member's client
	// URL is used when Endpoints is empty.
	Endpoints []string
	// CertFile, KeyFile and CAFile are PEM files for TLS to etcd: a client
	// certificate and key, and the CA that signed etcd's certificate.
	CertFile, KeyFile, CAFile string
	// Prefix is the key prefix of the store (DefaultEtcdPrefix when "").
	Prefix string
	// RequestTimeout bounds each etcd call (DefaultEtcdRequestTimeout
	// when 0).
	RequestTimeout time.Duration
	// MaxTxnOps and MaxRequestBytes are the etcd server's limits (etcd's
	// defaults when 0); commits larger than them are split as
	// etcd_apply.go describes.
	MaxTxnOps, MaxRequestBytes int
	// Embedded, when set, runs an etcd member in this process, closed with
	// the store.
	Embedded *EmbedConfig
}

// Etcd is a Store kept in an etcd cluster, shared by every control plane
// configured with the same endpoints and prefix. It is safe for
// concurrent use.
type Etcd struct {
	cfg    EtcdConfig
	keys   etcdKeys
	client *clientv3.Client
	member *Member
	id     string

	// commitMu orders this process's commits: they would only make each
	// other retry.
	commitMu sync.Mutex
	rev      atomic.Int64
	hub      hub
	// shared keeps what ListShared decoded, from this process's reads.
	shared sharedDecodes[string]
	// outage is set when a call finds etcd unavailable, and cleared by
	// follow once etcd answers again (see follow).
	outage atomic.Bool

	// closeMu is held for reading by every call and for writing by Close.
	closeMu sync.RWMutex
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{}
}

var (
	_ Store   = (*Etcd)(nil)
	_ Secrets = (*Etcd)(nil)
)

// OpenEtcd connects to etcd (starting the embedded member first when
// cfg.Embedded is set), gives the prefix a store id when it has none,
// and starts following its revision. It fails with an error wrapping
// ErrUnavailable when etcd does not answer within the request timeout.
func OpenEtcd(ctx context.Context, cfg EtcdConfig) (*Etcd, error) {
	cfg = cfg.withDefaults()
	keys, err := newEtcdKeys(cfg.Prefix)
	if err != nil {
		return nil, err
	}
	e := &Etcd{cfg: cfg, keys: keys, done: make(chan struct{})}
	if cfg.Embedded != nil {
		if e.member, err = StartMember(ctx, *cfg.Embedded); err != nil {
			return nil, err
		}
		if len(e.cfg.Endpoints) == 0 {
			e.cfg.Endpoints = []string{e.member.ClientURL()}
		}
	}
	if err := e.connect(ctx); err != nil {
		e.closeMember()
		return nil, atOpen(err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go e.follow(wctx)
	return e, nil
}

// withDefaults fills in the zero fields.
func (c EtcdConfig) withDefaults() EtcdConfig {
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultEtcdRequestTimeout
	}
	if c.MaxTxnOps <= 0 {
		c.MaxTxnOps = DefaultEtcdMaxTxnOps
	}
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = DefaultEtcdMaxRequestBytes
	}
	c.Endpoints = append([]string(nil), c.Endpoints...)
	return c
}

// connect makes the client, then reads (or makes) the store id and the
// revision, which proves etcd answers.
func (e *Etcd) connect(ctx context.Context) error {
	if len(e.cfg.Endpoints) == 0 {
		return errors.New("the etcd store needs --etcd-endpoints (or --etcd-embedded)")
	}
	tlsCfg, err := e.cfg.tls()
	if err != nil {
		return err
	}
	e.client, err = clientv3.New(clientv3.Config{
		Endpoints:   e.cfg.Endpoints,
		TLS:         tlsCfg,
		DialTimeout: e.cfg.RequestTimeout,
		// Retries and reconnects are ours to report, as ErrUnavailable.
		Logger:             zap.NewNop(),
		MaxCallSendMsgSize: e.cfg.MaxRequestBytes + 64*1024,
		// gRPC's default reconnect backoff grows to two minutes; an etcd
		// that comes back must be seen within a second or two.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: reconnectMaxDelay},
			MinConnectTimeout: e.cfg.RequestTimeout,
		})},
	})
	if err != nil {
		return e.etcdErr(ctx, "connect to etcd", err)
	}
	if err := e.ensureStoreID(ctx); err != nil {
		_ = e.client.Close()
		return err
	}
	rev, _, err := e.readRev(ctx)
	if err != nil {
		_ = e.client.Close()
		return err
	}
	e.rev.Store(rev)
	e.hub.notify(rev)
	return nil
}

// tls is the client's TLS config; nil (plaintext) when no file is named.
func (c EtcdConfig) tls() (*tls.Config, error) {
	if c.CertFile == "" && c.KeyFile == "" && c.CAFile == "" {
		return nil, nil
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("--etcd-cert and --etcd-key go together: pass both, or neither")
	}
	info := transport.TLSInfo{CertFile: c.CertFile, KeyFile: c.KeyFile, TrustedCAFile: c.CAFile}
	cfg, err := info.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("etcd TLS (--etcd-cert %q, --etcd-key %q, --etcd-ca %q): %w", c.CertFile, c.KeyFile, c.CAFile, err)
	}
	return cfg, nil
}

// call runs f with the request timeout and classifies its error as op.
func (e *Etcd) call(ctx context.Context, op string, f func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	return e.etcdErr(ctx, op, f(cctx))
}

// read runs the read-only f like call, but retries it while etcd is
// briefly unable to answer (an election, a reconnect) until the request
// timeout: a read has no effect, so trying again is always safe, and an
// apply then rides out a leader change instead of failing.
func (e *Etcd) read(ctx context.Context, op string, f func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	wait := readRetryMin
	for {
		err := f(cctx)
		if err == nil || !isUnavailable(err) || cctx.Err() != nil {
			return e.etcdErr(ctx, op, err)
		}
		select {
		case <-cctx.Done():
			return e.etcdErr(ctx, op, err)
		case <-time.After(wait):
		}
		wait = min(2*wait, readRetryMax)
	}
}

// Bounds of the pause between two tries of a read.
const (
	readRetryMin = 50 * time.Millisecond
	readRetryMax = 500 * time.Millisecond
)

// enter takes the close lock for one call; the returned func releases it.
func (e *Etcd) enter() (func(), error) {
	e.closeMu.RLock()
	if e.closed {
		e.closeMu.RUnlock()
		return nil, ErrClosed
	}
	return e.closeMu.RUnlock, nil
}

// Get returns a fresh copy of one resource, or an error wrapping
// ErrNotFound, as of the last committed revision.
func (e *Etcd) Get(ctx context.Context, key resource.Key) (*resource.Resource, error) {
	release, err := e.enter()
	if err != nil {
		return nil, err
	}
	defer release()
	v, ok, err := e.readOne(ctx, "get "+key.String(), e.keys.resource(key))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound(key)
	}
	return decode(key.String(), v)
}

// List returns fresh copies of every resource of kind (all when ""),
// sorted by key, and the revision of the same etcd read.
func (e *Etcd) List(ctx context.Context, kind resource.Kind) ([]*resource.Resource, int64, error) {
	release, err := e.enter()
	if err != nil {
		return nil, 0, err
	}
	defer release()
	st, err := e.readState(ctx, "list", clientv3.OpGet(e.keys.resources(kind), clientv3.WithPrefix()))
	if err != nil {
		return nil, 0, err
	}
	out := []*resource.Resource{}
	for full, v := range st.values {
		name, ok := e.keys.resourceName(full)
		if !ok {
			continue
		}
		r, err := decode(name, v)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	sortResources(out)
	e.seen(st.rev)
	return out, st.rev, nil
}

// ListShared returns every resource and the revision of the same etcd
// read, decoding only the values new or changed since this process's
// previous ListShared; see Store.ListShared.
func (e *Etcd) ListShared(ctx context.Context) ([]*resource.Resource, int64, error) {
	release, err := e.enter()
	if err != nil {
		return nil, 0, err
	}
	defer release()
	st, err := e.readState(ctx, "list", clientv3.OpGet(e.keys.resources(""), clientv3.WithPrefix()))
	if err != nil {
		return nil, 0, err
	}
	out, err := e.shared.list(keyName, func(add func(string, []byte) error) error {
		for full, v := range st.values {
			if name, ok := e.keys.resourceName(full); ok {
				if err := add(name, v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	e.seen(st.rev)
	return out, st.rev, nil
}

// Revision returns the newest revision this process has seen.
func (e *Etcd) Revision() int64 { return e.rev.Load() }

// seen records a revision read or written, and tells watchers.
func (e *Etcd) seen(rev int64) {
	for {
		cur := e.rev.Load()
		if rev <= cur || e.rev.CompareAndSwap(cur, rev) {
			break
		}
	}
	e.hub.notify(rev)
}

// Watch returns a channel of new revisions, whichever control plane made
// them; see Store.Watch. After etcd was unavailable it also sends the
// current revision again once etcd answers, so that a reader whose read
// failed meanwhile reads again.
func (e *Etcd) Watch(ctx context.Context) <-chan int64 { return e.hub.watch(ctx) }

// Kind returns "etcd".
func (e *Etcd) Kind() string { return "etcd" }

// StoreID returns the id the prefix carries, the same in every control
// plane sharing it.
func (e *Etcd) StoreID() string { return e.id }

// Client is the etcd client the store uses, for packages that build on
// the same etcd (leases, elections). It is closed with the store.
func (e *Etcd) Client() *clientv3.Client { return e.client }

// Prefix is the key prefix of the store; other packages keep their keys
// beside it, under Prefix + their own name + "/".
func (e *Etcd) Prefix() string { return e.keys.prefix }

// Ready returns nil when etcd answers a linearizable read (so a quorum
// exists), else an error wrapping ErrUnavailable that says why.
func (e *Etcd) Ready(ctx context.Context) error {
	release, err := e.enter()
	if err != nil {
		return err
	}
	defer release()
	_, _, err = e.readRev(ctx)
	return err
}

// Close stops following etcd, closes the client and the embedded member.
// Later calls return ErrClosed; a second Close returns nil.
func (e *Etcd) Close() error {
	e.closeMu.Lock()
	defer e.closeMu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	e.cancel()
	<-e.done
	e.hub.close()
	err := e.client.Close()
	e.closeMember()
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("close the etcd client: %w", err)
	}
	return nil
}

// closeMember stops the embedded member, if this store runs one.
func (e *Etcd) closeMember() {
	if e.member != nil {
		e.member.Close()
	}
}
