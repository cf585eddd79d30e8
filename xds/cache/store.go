package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
)

// Store holds the view of each node's shape, which the publisher sets,
// and answers from it: the xDS server's streams ask it for what a
// subscription is due (AnswerSotW, AnswerDelta) whenever it tells them
// of a new view (NotifyViews), and as Embassy's implementation of
// go-control-plane's cache.Cache it answers that server's watches and
// fetches the same way. Nothing is built per watch that a
// shape's nodes could share: a view's resources are encoded once
// (encodings), a wildcard answer's list once per type and version, and a
// state-of-the-world answer for a type other than Listener and Cluster
// carries only what changed since the version the proxy holds, as the xDS
// protocol allows ("Grouping Resources into Responses"), the same list
// and the same encoding of it for every stream due it (SotwResponse).
// Encodings of answers are not kept once sent. It is safe for concurrent
// use.
type Store struct {
	mu    sync.Mutex
	nodes map[string]*storeNode
}

var _ cachev3.Cache = (*Store)(nil)

// storeNode is one node key's view and open watches.
type storeNode struct {
	view    *view
	watches map[*watch]struct{}
	// notify are the incremental streams of the node, told of each new
	// view (NotifyViews).
	notify map[chan<- struct{}]struct{}
}

// idle reports whether nothing holds the node's entry.
func (n *storeNode) idle() bool {
	return n.view == nil && len(n.watches) == 0 && len(n.notify) == 0
}

// watch is an open watch: one of sotw or delta is set.
type watch struct {
	sotw  *cachev3.Request
	delta *cachev3.DeltaRequest
	sub   cachev3.Subscription
	print subPrint
	out   chan cachev3.Response
	dout  chan cachev3.DeltaResponse
}

// NewStore returns an empty store.
func NewStore() *Store { return &Store{nodes: map[string]*storeNode{}} }

func (s *Store) node(key string) *storeNode {
	n := s.nodes[key]
	if n == nil {
		n = &storeNode{watches: map[*watch]struct{}{}}
		s.nodes[key] = n
	}
	return n
}

// setView gives the node with key a view and answers every open watch
// the new view has something for. The server's response channels have
// room for one answer per open watch, so sending under the lock never
// blocks.
func (s *Store) setView(key string, v *view) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.node(key)
	n.view = v
	for w := range n.watches {
		if s.answer(n, w) {
			delete(n.watches, w)
		}
	}
	for ch := range n.notify {
		select {
		case ch <- struct{}{}:
		default: // already told, not yet read
		}
	}
}

// NotifyViews tells ch, without blocking, whenever the node with key gets
// a new view, until cancel is called: an incremental stream reads the
// view and answers its subscriptions itself (AnswerDelta). ch should have
// room for one signal.
func (s *Store) NotifyViews(key string, ch chan<- struct{}) (cancel func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.node(key)
	if n.notify == nil {
		n.notify = map[chan<- struct{}]struct{}{}
	}
	n.notify[ch] = struct{}{}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(n.notify, ch)
		if n.idle() && s.nodes[key] == n {
			delete(s.nodes, key)
		}
	}
}

// AnswerDelta returns the incremental response that brings the stream
// subscription d of the node with key to the node's current view of
// typeURL, and takes it as what the proxy holds; false when the node has
// no view, the view does not serve the type, or nothing differs and no
// answer is due (force asks for one even then).
func (s *Store) AnswerDelta(key, typeURL string, d *DeltaSub, force bool) (*discovery.DeltaDiscoveryResponse, bool) {
	v, err := s.View(key)
	if err != nil {
		return nil, false
	}
	tv := v.types[typeURL]
	if tv == nil {
		return nil, false
	}
	return answerDeltaSub(tv, d, typeURL, force)
}

// clear drops the node's view; its open watches wait for a new one.
func (s *Store) clear(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.nodes[key]; n != nil {
		n.view = nil
		if n.idle() {
			delete(s.nodes, key)
		}
	}
}

// View returns the view of the node with key; an error says it has none.
func (s *Store) View(key string) (*view, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.nodes[key]; n != nil && n.view != nil {
		return n.view, nil
	}
	return nil, fmt.Errorf("no view for node %q", key)
}

// answer sends w its response if the node's view has one for it.
func (s *Store) answer(n *storeNode, w *watch) bool {
	if n.view == nil {
		return false
	}
	if w.sotw != nil {
		tv := n.view.types[w.sotw.GetTypeUrl()]
		if tv == nil {
			return false
		}
		resp, ok := answerSotW(tv, w.sotw, w.sub, &w.print)
		if ok {
			w.out <- resp
		}
		return ok
	}
	tv := n.view.types[w.delta.GetTypeUrl()]
	if tv == nil {
		return false
	}
	resp, ok := answerDelta(tv, w.delta, w.sub)
	if ok {
		w.dout <- resp
	}
	return ok
}

// open answers w at once if it can, or keeps it until a view can.
func (s *Store) open(key string, w *watch) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.node(key)
	if s.answer(n, w) {
		return func() {}
	}
	n.watches[w] = struct{}{}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(n.watches, w)
		if n.idle() && s.nodes[key] == n {
			delete(s.nodes, key)
		}
	}
}

// CreateWatch implements cachev3.ConfigWatcher for state-of-the-world
// streams. The watch keeps the request without its names, which the
// subscription holds: a watch is open for every type of every stream
// between pushes.
func (s *Store) CreateWatch(req *cachev3.Request, sub cachev3.Subscription, out chan cachev3.Response) (func(), error) {
	kept := &cachev3.Request{VersionInfo: req.GetVersionInfo(), Node: req.GetNode(), TypeUrl: req.GetTypeUrl(),
		ResponseNonce: req.GetResponseNonce(), ErrorDetail: req.GetErrorDetail()}
	return s.open(NodeKey(req.GetNode()), &watch{sotw: kept, sub: sub, out: out}), nil
}

// CreateDeltaWatch implements cachev3.ConfigWatcher for incremental
// streams. The watch keeps the request without its names, as CreateWatch.
func (s *Store) CreateDeltaWatch(req *cachev3.DeltaRequest, sub cachev3.Subscription, out chan cachev3.DeltaResponse) (func(), error) {
	kept := &cachev3.DeltaRequest{Node: req.GetNode(), TypeUrl: req.GetTypeUrl(), ResponseNonce: req.GetResponseNonce(), ErrorDetail: req.GetErrorDetail()}
	return s.open(NodeKey(req.GetNode()), &watch{delta: kept, sub: sub, dout: out}), nil
}

// errUpToDate answers a fetch of the version the node already holds.
var errUpToDate = errors.New("skip fetch: version up to date")

// Fetch implements cachev3.ConfigFetcher: the whole of what the request
// names (or all of the type), at the node's current version.
func (s *Store) Fetch(_ context.Context, req *cachev3.Request) (cachev3.Response, error) {
	v, err := s.View(NodeKey(req.GetNode()))
	if err != nil {
		return nil, err
	}
	tv := v.types[req.GetTypeUrl()]
	if tv == nil {
		return nil, fmt.Errorf("type %q is not served", req.GetTypeUrl())
	}
	if req.GetVersionInfo() == tv.version {
		return nil, errUpToDate
	}
	names := req.GetResourceNames()
	if len(names) == 0 {
		return &SotwResponse{req: req, version: tv.version, answer: tv.all()}, nil
	}
	return &SotwResponse{req: req, version: tv.version, answer: &sotwAnswer{resources: encodedNamed(tv, names)}}, nil
}
