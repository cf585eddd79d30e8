// Package server is Embassy's xDS server: ADS and the per-type services,
// state of the world and delta, with go-control-plane's protocol served
// by Embassy's own stream loops (sotwServer, deltaServer), whose state
// per stream is only what differs from what the proxy's shape shares,
// over the publisher's store; go-control-plane's server answers REST
// fetches. Its gRPC codec (ServerOptions) sends what proxies share as the
// shared bytes: a SotW answer encoded once for every stream due it, a
// delta answer around its resources' encodings. It tracks each proxy's
// ACKs and NACKs for the status API.
package server

import (
	"context"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	endpointservice "github.com/envoyproxy/go-control-plane/envoy/service/endpoint/v3"
	listenerservice "github.com/envoyproxy/go-control-plane/envoy/service/listener/v3"
	routeservice "github.com/envoyproxy/go-control-plane/envoy/service/route/v3"
	secretservice "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/sotw/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"

	"embassy.dev/embassy/pkg/events"
	embassylog "embassy.dev/embassy/pkg/log"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/status"
	"embassy.dev/embassy/xds/cache"
)

// Config configures a Server.
type Config struct {
	// Logger is the xDS logger, already named by the caller (log.XDS under
	// the root); the server logs on it as is and names its cache log.Cache
	// below it. It defaults to a null logger.
	Logger hclog.Logger
	// Debounce and MaxDelay bound how pushes follow updates; zero values
	// take cache.DefaultDebounce and cache.DefaultMaxDelay.
	Debounce, MaxDelay time.Duration
	// HoldEvery is cache.Options.HoldEvery: every update waits the
	// debounce, even the first after a quiet spell.
	HoldEvery bool
	// Translator is handed to the publisher as cache.Options.Translator
	// (nil takes the publisher's default).
	Translator cache.Translator
	// Authorizer decides whether a stream may be served the node it names.
	// It runs once per stream, on the first request, with the stream's
	// context (peer.FromContext gives the TLS peer); an error ends the
	// stream with that error, so it should be a gRPC status. A later
	// request naming another node ends the stream too. Nil allows every
	// stream (plaintext xDS for local development).
	Authorizer Authorizer
	// Events hears of pushes and NACKs; nil drops them.
	Events events.Publisher
	// Metrics hears of responses, answers and pushes; nil counts nothing.
	Metrics Metrics
	// Changes hears which proxies each push changed and what they
	// answered; nil records nothing.
	Changes ChangeRecorder
}

// ChangeRecorder follows changes to the proxies' answers (rollout.Tracker
// implements it). Its methods are called synchronously, Pushed on the push
// loop, so they must be quick.
type ChangeRecorder interface {
	// Pushed reports a push: per node it changed, the new version of each
	// changed type the node subscribes to.
	Pushed(revision int64, at time.Time, changed map[string]map[string]string)
	// Answered reports a node's ack (nack empty) or rejection of a version.
	Answered(node, typeURL, version, nack string, at time.Time)
}

// Authorizer decides whether the peer of a stream (found in ctx) may be
// served node's configuration.
type Authorizer func(ctx context.Context, node *core.Node) error

// Server serves xDS from mesh snapshots and reports what each proxy runs.
type Server struct {
	log     hclog.Logger
	pub     *cache.Publisher
	xds     serverv3.Server
	sotw    *sotwServer
	delta   *deltaServer
	tracker *tracker
	cancel  context.CancelFunc
}

var (
	_ status.Registry     = (*Server)(nil)
	_ status.ConfigSource = (*Server)(nil)
)

// New builds a Server; Register it on a gRPC server and feed it with Update.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	log := cfg.Logger
	if cfg.Events == nil {
		cfg.Events = noEvents{}
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	var t *tracker
	observe := onPush(cfg.Events, cfg.Metrics)
	pub := cache.NewPublisher(cache.Options{
		OnPush: func(info cache.PushInfo) {
			observe(info)
			if cfg.Changes != nil {
				cfg.Changes.Pushed(info.Revision, info.At, t.subscribed(info.Changed))
			}
		},
		Logger:     log.Named(embassylog.Cache),
		Debounce:   cfg.Debounce,
		MaxDelay:   cfg.MaxDelay,
		HoldEvery:  cfg.HoldEvery,
		Translator: cfg.Translator,
	})
	ctx, cancel := context.WithCancel(context.Background())
	t = newTracker(pub, log)
	t.authorize = cfg.Authorizer
	t.changes = cfg.Changes
	t.events, t.metrics = cfg.Events, cfg.Metrics
	return &Server{
		log:     log,
		pub:     pub,
		xds:     serverv3.NewServer(ctx, pub.Cache(), t, sotw.WithLogger(cache.NewLogger(log))),
		sotw:    &sotwServer{ctx: ctx, store: pub.Cache(), tracker: t, encode: encodeSotw},
		delta:   &deltaServer{ctx: ctx, store: pub.Cache(), tracker: t},
		tracker: t,
		cancel:  cancel,
	}
}

// Update feeds a new mesh snapshot; it reaches proxies after the debounce.
func (s *Server) Update(snap *mesh.Snapshot) { s.pub.Update(snap) }

// Register adds ADS and the per-type discovery services to g: streams
// by Embassy's own loops (sotwServer, deltaServer) over go-control-plane's
// protocol, REST fetches by go-control-plane's server. g should be built
// with ServerOptions, so that answers proxies share are encoded once.
func (s *Server) Register(g *grpc.Server) {
	svc := services{Server: s.xds, sotw: s.sotw, delta: s.delta}
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(g, svc)
	listenerservice.RegisterListenerDiscoveryServiceServer(g, svc)
	routeservice.RegisterRouteDiscoveryServiceServer(g, svc)
	clusterservice.RegisterClusterDiscoveryServiceServer(g, svc)
	endpointservice.RegisterEndpointDiscoveryServiceServer(g, svc)
	secretservice.RegisterSecretDiscoveryServiceServer(g, svc)
}

// Proxies returns a copy of every connected proxy's state, sorted by ID.
func (s *Server) Proxies() []status.Proxy { return s.tracker.proxies() }

// ProxyConfig returns what node id was last sent, per type, and the
// versions of what it last acked; ok is false when it is not connected.
// id is a node id, or a node id with cache.AgentKeySuffix for the policy
// stream of that workload's agent.
func (s *Server) ProxyConfig(id string) ([]status.ServedType, bool) { return s.tracker.proxyConfig(id) }

// PendingUpdates is how many mesh updates wait for the next push.
func (s *Server) PendingUpdates() int { return s.pub.PendingUpdates() }

// LastPush describes the last push; ok is false before the first.
func (s *Server) LastPush() (cache.PushInfo, bool) { return s.pub.LastPush() }

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	st := s.tracker.stats.snapshot()
	st.Pushes, st.Revision = s.pub.Pushes(), s.pub.Revision()
	return st
}

// Close ends every open stream and stops pushing. It does not stop the
// gRPC server the services are registered on.
func (s *Server) Close() {
	s.cancel()
	s.pub.Close()
}
