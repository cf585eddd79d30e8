package server

import (
	"context"
	"sort"
	"sync"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/events"
	estatus "embassy.dev/embassy/pkg/status"
	"embassy.dev/embassy/xds/cache"
)

// The xDS protocol variants, as the status API names them.
const (
	kindSotW  = "sotw"
	kindDelta = "delta"
)

// streamKey names a stream: go-control-plane numbers SotW and delta
// streams with separate counters, so the id alone is ambiguous.
type streamKey struct {
	kind string
	id   int64
}

// streamState is what the tracker remembers of one open stream.
type streamState struct {
	// ctx is the stream's context, for the authorizer.
	ctx context.Context
	// authorized is the node id the authorizer allowed ("" until then).
	authorized string
	// typeURL is the stream's type for a per-type service, "" for ADS.
	typeURL string
	// nodeKey is the node's cache.NodeKey, set by the first request that
	// carries a node: an agent and its workload's own xDS client send the
	// same node id but are two nodes.
	nodeKey string
	// sent holds, per type URL, the last response awaiting an answer. Only
	// the last one counts: go-control-plane ignores answers to stale nonces
	// too, and the proxy answers the newest response soon after.
	sent map[string]sentResponse
}

// answer is a proxy's rejection of a response: the error_detail message.
type answer struct {
	message string
}

type sentResponse struct {
	nonce, version string
	at             time.Time
	// sotw is what a SotW response leaves the node holding, kept for
	// the acked state.
	sotw held
}

// nodeState is a connected node's status and how many streams it holds.
type nodeState struct {
	proxy   estatus.Proxy
	streams int
	// served is what the node holds of each type URL.
	served map[string]*served
	// owner is, per type URL, the stream that last asked for it: what the
	// node holds is what that stream was sent. A stream the proxy has
	// left may still be sent a response before it closes.
	owner map[string]streamKey
}

// tracker follows streams through go-control-plane's callbacks, registers
// nodes with the publisher, and records what each node was sent and
// answered. It is safe for concurrent use.
type tracker struct {
	pub   *cache.Publisher
	log   hclog.Logger
	stats counters
	// authorize, when set, vets each stream's node before it is served.
	authorize Authorizer
	// events and metrics hear of NACKs and answers; never nil.
	events  events.Publisher
	metrics Metrics
	// changes hears of answers; nil records none.
	changes ChangeRecorder

	mu      sync.Mutex
	streams map[streamKey]*streamState
	// nodes is keyed by cache.NodeKey, as the publisher's nodes are.
	nodes map[string]*nodeState
}

func newTracker(pub *cache.Publisher, log hclog.Logger) *tracker {
	return &tracker{pub: pub, log: log, events: noEvents{}, metrics: noMetrics{}, streams: map[streamKey]*streamState{}, nodes: map[string]*nodeState{}}
}

func (t *tracker) open(ctx context.Context, k streamKey, typeURL string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.streams[k] = &streamState{ctx: ctx, typeURL: typeURL, sent: map[string]sentResponse{}}
}

// check refuses a malformed node id (checkNodeID), then runs the
// authorizer on a stream's first request, before the node
// is registered with the publisher, so a refused stream is never served
// anything. Later requests may omit the node (go-control-plane then uses
// the stream's last one), but one naming another node means the peer
// switched nodes mid-stream: that is refused too.
func (t *tracker) check(k streamKey, node *core.Node) error {
	if err := checkNodeID(node); err != nil {
		t.log.Warn("xDS stream refused", "node", node.GetId(), "error", err)
		return err
	}
	if t.authorize == nil {
		return nil
	}
	t.mu.Lock()
	st := t.streams[k]
	if st == nil {
		t.mu.Unlock()
		return status.Error(codes.Internal, "xDS stream was not opened")
	}
	ctx, allowed := st.ctx, st.authorized
	t.mu.Unlock()
	if allowed != "" {
		if id := node.GetId(); id != "" && id != allowed {
			return status.Errorf(codes.PermissionDenied, "node id %q: this stream was authorized for node %q; open a new stream for another node", node.GetId(), allowed)
		}
		return nil
	}
	if err := t.authorize(ctx, node); err != nil {
		t.log.Warn("xDS stream refused", "node", node.GetId(), "error", err)
		if _, ok := status.FromError(err); !ok {
			err = status.Error(codes.PermissionDenied, err.Error())
		}
		return err
	}
	t.mu.Lock()
	st.authorized = node.GetId()
	t.mu.Unlock()
	return nil
}

// request records a request and returns the version it rejects, if any.
// nack is nil unless the request rejects the response it answers. ackVersion is the version a successful
// answer acknowledges, given the response it answers. The node's first
// stream registers it with the publisher after the lock is released; the
// callback still runs before the request's watch is created, so the watch
// finds the node's snapshot.
func (t *tracker) request(k streamKey, node *core.Node, typeURL, nonce string, nack *answer, ackVersion func(sentResponse) string) (rejected string) {
	now := time.Now()
	var connect *core.Node
	var heard *heardAnswer
	t.mu.Lock()
	st := t.streams[k]
	if st == nil {
		st = &streamState{sent: map[string]sentResponse{}}
		t.streams[k] = st
	}
	if st.nodeKey == "" && node.GetId() != "" {
		st.nodeKey, connect = cache.NodeKey(node), node
		t.attach(k.kind, node, st.nodeKey, now, st.ctx)
	}
	if typeURL == "" {
		typeURL = st.typeURL
	}
	if ns := t.nodes[st.nodeKey]; ns != nil && typeURL != "" {
		if t.claims(ns, typeURL, k) {
			// A new stream starts from nothing.
			ns.owner[typeURL] = k
			delete(ns.served, typeURL)
		}
		ts := ns.proxy.Types[typeURL]
		if sent, ok := st.sent[typeURL]; ok && nonce != "" && nonce == sent.nonce {
			delete(st.sent, typeURL)
			heard = &heardAnswer{typeURL: typeURL, took: now.Sub(sent.at), nack: nack, node: st.nodeKey, version: sent.version}
			sv := ns.servedOf(typeURL)
			sv.answered(nonce, ackVersion(sent), sent.sotw, nack != nil)
			if nack != nil {
				rejected = sent.version
				ts.NackCount++
				ts.LastNack = &estatus.Nack{Version: sent.version, Message: nack.message, Time: now}
				t.log.Warn("proxy rejected configuration", "node", st.nodeKey, "type", typeURL, "version", sent.version, "error", nack.message)
			} else {
				ts.VersionAcked, ts.AckedAt = ackVersion(sent), now
				ts.TimeToAckSeconds = heard.took.Seconds()
			}
		}
		ns.proxy.Types[typeURL] = ts
	}
	t.mu.Unlock()
	if connect != nil {
		t.pub.Connect(connect)
	}
	if heard != nil {
		t.metrics.Answered(heard.typeURL, heard.took, heard.nack != nil)
		if heard.nack != nil {
			t.events.Publish(events.Event{Time: now, Kind: events.KindNack, Proxy: heard.node, Type: heard.typeURL, Message: heard.nack.message})
		}
		if t.changes != nil {
			msg := ""
			if heard.nack != nil {
				msg = heard.nack.message
			}
			t.changes.Answered(heard.node, heard.typeURL, heard.version, msg, now)
		}
	}
	return rejected
}

// subscribe notes the names a SotW request subscribes to, for a type
// whose responses carry only what changed: the node holds those it was
// sent and still subscribes to.
func (t *tracker) subscribe(k streamKey, typeURL string, sub *cache.SotwSub, names func() []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.streams[k]
	if st == nil {
		return
	}
	if typeURL == "" {
		typeURL = st.typeURL
	}
	if ns := t.nodes[st.nodeKey]; ns != nil && typeURL != "" && !cache.CompleteInSotW(typeURL) {
		ns.servedOf(typeURL).subscribe(sub.Print(), sub.Len(), names)
	}
}

// claims reports whether stream k takes over type typeURL of node ns:
// the node's first stream of the type does, and a newer one of the same
// variant (a proxy that reconnected; its old stream may still send a
// request before it closes), or any once the owner has closed.
func (t *tracker) claims(ns *nodeState, typeURL string, k streamKey) bool {
	o, ok := ns.owner[typeURL]
	if !ok {
		return true
	}
	if _, open := t.streams[o]; !open {
		return o != k
	}
	return o.kind == k.kind && k.id > o.id
}

// heardAnswer is an answer to report once the lock is released.
type heardAnswer struct {
	typeURL, node, version string
	took                   time.Duration
	nack                   *answer
}

// servedOf returns the node's served state of a type, making it.
func (ns *nodeState) servedOf(typeURL string) *served {
	sv := ns.served[typeURL]
	if sv == nil {
		sv = &served{}
		ns.served[typeURL] = sv
	}
	return sv
}

// attach counts a new stream of the node with key, creating its status
// on the first. The status keeps the id the node sent: an agent is told
// apart from its workload's node by its flavour, "agent".
func (t *tracker) attach(kind string, node *core.Node, key string, now time.Time, ctx context.Context) {
	ns := t.nodes[key]
	if ns == nil {
		ns = &nodeState{proxy: estatus.Proxy{
			ID:             node.GetId(),
			Flavour:        string(cache.FlavourOf(node)),
			ConnectedSince: now,
			Identity:       peerIdentity(ctx),
			Types:          map[string]estatus.TypeStatus{},
		}, served: map[string]*served{}, owner: map[string]streamKey{}}
		if w, n, err := dataplane.ParseNodeID(node.GetId()); err == nil {
			ns.proxy.Workload, ns.proxy.Namespace = w, n
		}
		t.nodes[key] = ns
		t.log.Info("proxy connected", "node", node.GetId(), "flavour", ns.proxy.Flavour, "xds", kind)
	}
	ns.streams++
	ns.proxy.XDS = kind
}

// response records a response about to be sent; record notes its
// resources in the node's served state.
func (t *tracker) response(k streamKey, typeURL, nonce, version string, size int, record func(*served)) {
	t.stats.add(k.kind, size)
	now := time.Now()
	t.mu.Lock()
	st := t.streams[k]
	if st == nil {
		t.mu.Unlock()
		return
	}
	if typeURL == "" {
		typeURL = st.typeURL
	}
	sent := sentResponse{nonce: nonce, version: version, at: now}
	if ns := t.nodes[st.nodeKey]; ns != nil && ns.owner[typeURL] == k {
		ts := ns.proxy.Types[typeURL]
		ts.VersionSent, ts.SentAt = version, now
		ns.proxy.Types[typeURL] = ts
		sv := ns.servedOf(typeURL)
		record(sv)
		sent.sotw = sv.sotw
	}
	st.sent[typeURL] = sent
	t.mu.Unlock()
	t.metrics.ResponseSent(typeURL)
}

// subscribed keeps, of a push's changed types per node, those the node
// has been sent before: a proxy answers only the types it asked for.
func (t *tracker) subscribed(changed map[string]map[string]string) map[string]map[string]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]map[string]string, len(changed))
	for node, types := range changed {
		ns := t.nodes[node]
		if ns == nil {
			continue
		}
		for typeURL, v := range types {
			if ns.proxy.Types[typeURL].VersionSent == "" {
				continue
			}
			if out[node] == nil {
				out[node] = map[string]string{}
			}
			out[node][typeURL] = v
		}
	}
	return out
}

// proxyConfig copies what the node with key (cache.NodeKey) was served,
// per type, sorted by type.
func (t *tracker) proxyConfig(key string) ([]estatus.ServedType, bool) {
	t.mu.Lock()
	ns := t.nodes[key]
	if ns == nil {
		t.mu.Unlock()
		return nil, false
	}
	copies := make([]servedCopy, 0, len(ns.served))
	for typ, sv := range ns.served {
		copies = append(copies, sv.snapshot(typ))
	}
	t.mu.Unlock()
	sort.Slice(copies, func(i, j int) bool { return copies[i].typeURL < copies[j].typeURL })
	out := make([]estatus.ServedType, len(copies))
	for i, c := range copies {
		out[i] = c.resolve()
	}
	return out, true
}

// close forgets a stream; a node's last stream takes its status and its
// cache snapshot with it.
func (t *tracker) close(k streamKey) {
	t.mu.Lock()
	st := t.streams[k]
	delete(t.streams, k)
	if st == nil || st.nodeKey == "" {
		t.mu.Unlock()
		return
	}
	if ns := t.nodes[st.nodeKey]; ns != nil {
		if ns.streams--; ns.streams <= 0 {
			delete(t.nodes, st.nodeKey)
			t.log.Info("proxy disconnected", "node", ns.proxy.ID, "flavour", ns.proxy.Flavour)
		}
	}
	t.mu.Unlock()
	t.pub.Disconnect(st.nodeKey)
}

// proxies returns deep copies of every node's status, sorted by ID and,
// for an agent and its workload's node, by flavour.
func (t *tracker) proxies() []estatus.Proxy {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]estatus.Proxy, 0, len(t.nodes))
	for _, ns := range t.nodes {
		p := ns.proxy
		p.Types = make(map[string]estatus.TypeStatus, len(ns.proxy.Types))
		for typ, ts := range ns.proxy.Types {
			if ts.LastNack != nil {
				n := *ts.LastNack
				ts.LastNack = &n
			}
			p.Types[typ] = ts
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Flavour < out[j].Flavour
	})
	return out
}
