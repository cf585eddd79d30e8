package cache

// A push, top to bottom:
//
//	Update(mesh) ──debounce (run)──► push(mesh)
//	  newGeneration        tr.Outbound, tr.ProxylessClient: once per push
//	  for every node       its own set: tr.Inbound (sidecar),
//	                       tr.ProxylessServer (gRPC server), tr.AuthzBundles (agent)
//	  gen.viewFor          shared set + own set, checked once per shape (checks)
//	    servable ──► setView ──► the xDS server's watches are answered (Store)
//	    refused  ──► the node keeps its last set; PushInfo.Refusals names
//	                 what was refused and the inputs behind it (reportRefused)
//	  OnPush(PushInfo) ──► push and refused events, /v1/status (xds/server)
//
// Connect runs the same per-node steps for a node that joins between
// pushes.

import (
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/hashicorp/go-hclog"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/translate"
)

// Options configure a Publisher.
type Options struct {
	// Logger defaults to a null logger.
	Logger hclog.Logger
	// Debounce defaults to DefaultDebounce; MaxDelay to DefaultMaxDelay.
	Debounce, MaxDelay time.Duration
	// HoldEvery makes every update wait the debounce. Without it, the
	// first update after a quiet spell of one debounce (no update and no
	// push) is pushed at once, and only what follows it is coalesced: a
	// lone change costs no wait, a burst still costs one push after the
	// first.
	HoldEvery bool
	// Translator is asked for every set; nil takes DefaultTranslator.
	Translator Translator
	// OnPush, when set, hears of every completed push, after the store
	// holds the new views; it runs on the push loop, so it must be
	// quick.
	OnPush func(PushInfo)
}

// PushInfo describes one completed push.
type PushInfo struct {
	Revision int64
	// At is when the push started; Took is how long translating and
	// setting every node's view took.
	At   time.Time
	Took time.Duration
	// Nodes is how many connected nodes were given their view.
	Nodes int
	// Changed holds, per node whose resources this push changed, the new
	// version of each type that changed.
	Changed map[string]map[string]string
	// Refused holds, per node this push could not update, why its new set
	// may not be served (see checks); such a node keeps the set it
	// had.
	Refused map[string]error
	// Refusals are Refused by distinct reason, each with the Envoy
	// resources refused and the mesh resources that produced them.
	Refusals []events.Refusal
}

// Publisher turns mesh snapshots into views for every connected node, in
// the Store the xDS server serves from. It is safe for concurrent use.
type Publisher struct {
	log   hclog.Logger
	tr    Translator
	store *Store
	// enc encodes each resource content once, across shapes and pushes.
	enc      *encodings
	debounce time.Duration
	maxDelay time.Duration
	hold     bool

	pendingMu    sync.Mutex
	pending      *mesh.Snapshot
	firstPending time.Time
	lastPending  time.Time
	// atOnce marks a pending snapshot that came after a quiet spell:
	// it is due at once. lastActive is the last update or push end, which
	// a quiet spell is measured from.
	atOnce     bool
	lastActive time.Time
	// pendingCount counts the updates the pending snapshot coalesces.
	pendingCount int
	onPush       func(PushInfo)
	lastPush     atomic.Pointer[PushInfo]

	// mu orders every change to the node set with the store calls that
	// follow it, so a node that disconnects is never given a view again
	// and one that connects never misses a push. Holding it across
	// setView is safe: the store only sends on response channels that
	// have room for one response per watch. nodes is keyed by NodeKey.
	mu    sync.Mutex
	nodes map[string]*nodeEntry
	gen   *generation
	// checks gate every set before it is served.
	checks *checks
	// served is the last mesh snapshot every node was served in full: a
	// refusal's inputs are what changed since.
	served *mesh.Snapshot
	inputs inputsMemo

	revision atomic.Int64
	pushes   atomic.Int64

	kick     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

type nodeEntry struct {
	proxy   translate.Proxy
	streams int
}

// NewPublisher starts a publisher's push loop; Close stops it.
func NewPublisher(o Options) *Publisher {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Debounce <= 0 {
		o.Debounce = DefaultDebounce
	}
	if o.MaxDelay <= 0 {
		// A debounce longer than the default bound would otherwise be
		// cut short by it: the bound is at least the debounce asked for.
		o.MaxDelay = max(DefaultMaxDelay, o.Debounce)
	}
	if o.Translator == nil {
		o.Translator = DefaultTranslator()
	}
	p := &Publisher{
		log:      o.Logger,
		tr:       o.Translator,
		debounce: o.Debounce,
		maxDelay: o.MaxDelay,
		hold:     o.HoldEvery,
		onPush:   o.OnPush,
		store:    NewStore(),
		enc:      newEncodings(),
		nodes:    map[string]*nodeEntry{},
		checks:   newChecks(),
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go p.run()
	return p
}

// Cache is the store the xDS server serves from.
func (p *Publisher) Cache() *Store { return p.store }

// Update queues a mesh snapshot, replacing any snapshot still pending. It
// is pushed at once after a quiet spell (unless HoldEvery), else after the
// debounce delay.
func (p *Publisher) Update(m *mesh.Snapshot) {
	now := time.Now()
	p.pendingMu.Lock()
	if p.pending == nil {
		p.firstPending = now
		p.atOnce = !p.hold && now.Sub(p.lastActive) >= p.debounce
	}
	p.pending, p.lastPending, p.lastActive = m, now, now
	p.pendingCount++
	p.pendingMu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *Publisher) takePending() *mesh.Snapshot {
	p.pendingMu.Lock()
	defer p.pendingMu.Unlock()
	m := p.pending
	p.pending, p.pendingCount = nil, 0
	return m
}

// PendingUpdates is how many updates wait for the next push (the
// debounce queue's depth); they are pushed as one snapshot.
func (p *Publisher) PendingUpdates() int {
	p.pendingMu.Lock()
	defer p.pendingMu.Unlock()
	return p.pendingCount
}

// LastPush describes the last completed push; ok is false before any.
func (p *Publisher) LastPush() (info PushInfo, ok bool) {
	if lp := p.lastPush.Load(); lp != nil {
		return *lp, true
	}
	return PushInfo{}, false
}

// Revision is the revision of the last mesh snapshot pushed, 0 before any.
// Once it reads a revision, LastPush and the OnPush hook have seen that
// push.
func (p *Publisher) Revision() int64 { return p.revision.Load() }

// Pushes counts the pushes done so far.
func (p *Publisher) Pushes() int64 { return p.pushes.Load() }

// Connect registers a stream of a node, under NodeKey(node). The node's
// first stream gives it a view at once when a mesh snapshot has been
// pushed, so its first watch is answered without waiting for the next
// push.
func (p *Publisher) Connect(node *core.Node) {
	key := NodeKey(node)
	p.mu.Lock()
	defer p.mu.Unlock()
	if n, ok := p.nodes[key]; ok {
		n.streams++
		return
	}
	n := &nodeEntry{proxy: ProxyFor(node), streams: 1}
	p.nodes[key] = n
	if p.gen == nil || unknownAgent(p.gen.mesh, n.proxy) {
		return
	}
	v, err := p.gen.viewFor(n.proxy, p.ownSet(p.gen.mesh, n.proxy), nil)
	if err != nil {
		p.reportRefused(p.gen.mesh, map[string]error{key: err})
		return
	}
	p.store.setView(key, v)
}

// Disconnect releases a stream of the node with key (NodeKey of the node
// Connect was given); the node's view is dropped with its last stream.
// An agent and its workload's node have different keys, so one leaving
// never drops the other's view.
func (p *Publisher) Disconnect(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, ok := p.nodes[key]
	if !ok {
		return
	}
	if n.streams--; n.streams > 0 {
		return
	}
	delete(p.nodes, key)
	p.store.clear(key)
}

// Close stops the push loop. Pending updates are dropped.
func (p *Publisher) Close() {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
}

// push translates the shared resources once, then gives each node the
// view of its shape. Nodes' own sets are translated outside the lock;
// nodes that connect meanwhile are translated under it.
func (p *Publisher) push(m *mesh.Snapshot) {
	start := time.Now()
	p.checks.rotate()
	p.enc.rotate()
	p.mu.Lock()
	prevGen := p.gen
	p.mu.Unlock()
	gen, err := newGeneration(m, p.tr, p.checks, p.enc, prevGen)
	if err != nil {
		p.log.Error("cannot build snapshot; keeping the previous one", "revision", m.Revision, "error", err)
		return
	}
	p.mu.Lock()
	proxies := make(map[string]translate.Proxy, len(p.nodes))
	for key, n := range p.nodes {
		proxies[key] = n.proxy
	}
	p.mu.Unlock()

	own := p.ownSets(m, proxies)

	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen = gen
	changed := map[string]map[string]string{}
	refused := map[string]error{}
	for id, n := range p.nodes {
		if unknownAgent(m, n.proxy) {
			continue
		}
		set, ok := own[id]
		if !ok {
			set = p.ownSet(m, n.proxy)
		}
		old, _ := p.store.View(id)
		v, err := gen.viewFor(n.proxy, set, old)
		if err != nil {
			refused[id] = err
			continue
		}
		if c := changedVersions(old, v); len(c) > 0 {
			changed[id] = c
		}
		p.store.setView(id, v)
	}
	refusals := p.reportRefused(m, refused)
	// Served in full: no node refused, nor a shared set that a node of
	// a flavour not connected yet would be refused.
	if len(refused) == 0 && gen.outboundErr == nil && gen.proxylessErr == nil {
		p.served, p.inputs = m, inputsMemo{}
	}
	info := PushInfo{Revision: m.Revision, At: start, Took: time.Since(start), Nodes: len(p.nodes), Changed: changed, Refused: refused, Refusals: refusals}
	p.lastPush.Store(&info)
	p.log.Debug("pushed", "revision", m.Revision, "nodes", len(p.nodes), "shapes", len(gen.shapes), "took", info.Took)
	if p.onPush != nil {
		// Under p.mu, so hooks see pushes in order; OnPush must be quick.
		p.onPush(info)
	}
	// Last, so whoever sees the revision sees its push and what the
	// hooks made of it (events, status).
	p.revision.Store(m.Revision)
	p.pushes.Add(1)
}

// ownSets translates every node's own resources, on as many goroutines
// as there are cores: each is independent, and the push waits for all.
func (p *Publisher) ownSets(m *mesh.Snapshot, proxies map[string]translate.Proxy) map[string]resourceSet {
	ids := slices.Collect(maps.Keys(proxies))
	sets := make([]resourceSet, len(ids))
	workers := min(runtime.GOMAXPROCS(0), len(ids))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(ids); i += workers {
				sets[i] = p.ownSet(m, proxies[ids[i]])
			}
		})
	}
	wg.Wait()
	own := make(map[string]resourceSet, len(ids))
	for i, id := range ids {
		own[id] = sets[i]
	}
	return own
}

// ownSet translates a node's own resources: an Envoy sidecar's inbound
// listeners, the server Listeners of a proxyless node whose id names a
// Workload, or an agent's authorization bundles. Other nodes have none.
func (p *Publisher) ownSet(m *mesh.Snapshot, px translate.Proxy) resourceSet {
	switch px.Flavour {
	case translate.Proxyless:
		return p.proxylessServer(m, px)
	case Agent:
		return p.agentBundles(m, px)
	}
	if px.Flavour != translate.Envoy || px.Workload == "" {
		return nil
	}
	set, err := newResourceSet(p.tr.Inbound(m, px), p.enc)
	if err != nil {
		p.log.Error("cannot build inbound resources; serving outbound only", "node", px.ID, "error", err)
		return nil
	}
	return set
}

// proxylessServer translates the server Listeners of a proxyless node
// whose id is "<workload>.<namespace>" of an existing Workload. A client's
// id names no workload, so clients keep sharing one view.
func (p *Publisher) proxylessServer(m *mesh.Snapshot, px translate.Proxy) resourceSet {
	w, ns, err := dataplane.ParseNodeID(px.ID)
	if err != nil || m.Workload(ns, w) == nil {
		return nil
	}
	px.Workload, px.Namespace = w, ns
	set, err := newResourceSet(p.tr.ProxylessServer(m, px), p.enc)
	if err != nil {
		p.log.Error("cannot build server listeners; serving client resources only", "node", px.ID, "error", err)
		return nil
	}
	return set
}

// unknownAgent reports whether px is an agent whose workload the mesh
// does not hold (yet: an agent serves ext_authz before its registration
// is pushed). Such an agent is given no view, so its request waits:
// an empty answer would tell it that no policy targets its workload, and
// it would allow every request. An agent whose workload goes away keeps
// the last set it was told.
func unknownAgent(m *mesh.Snapshot, px translate.Proxy) bool {
	return px.Flavour == Agent && (px.Workload == "" || m.Workload(px.Namespace, px.Workload) == nil)
}

// agentBundles translates the authorization bundles of an agent's
// workload: the same ExtensionConfigs whether the workload runs Envoy or
// is a proxyless server. An agent whose id names no Workload has none,
// and is not answered (unknownAgent).
func (p *Publisher) agentBundles(m *mesh.Snapshot, px translate.Proxy) resourceSet {
	if px.Workload == "" || m.Workload(px.Namespace, px.Workload) == nil {
		return nil
	}
	px.Flavour = translate.Envoy
	set, err := newResourceSet(p.tr.AuthzBundles(m, px), p.enc)
	if err != nil {
		p.log.Error("cannot build the agent's bundles; serving none", "node", px.ID, "error", err)
		return nil
	}
	if ts := set[resourcev3.ExtensionConfigType]; ts != nil {
		return resourceSet{resourcev3.ExtensionConfigType: ts}
	}
	return nil
}
