package server

import (
	"context"
	"strconv"
	"sync/atomic"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/xds/cache"
)

// deltaServer serves incremental (Delta) xDS streams over the store:
// the protocol of go-control-plane's delta server, with the same
// callbacks, but each stream's state per type is a cache.DeltaSub, which
// keeps only what differs from the view its proxy's shape shares.
// go-control-plane's server keeps a map of every resource's version and
// of every subscribed name per stream and type, which cost more than
// everything else a delta proxy holds.
type deltaServer struct {
	ctx     context.Context
	store   *cache.Store
	tracker *tracker
	streams atomic.Int64
}

// deltaStream is a bidirectional delta stream, any of ADS's or the
// per-type services'.
type deltaStream interface {
	grpc.ServerStream
	Send(*discovery.DeltaDiscoveryResponse) error
	Recv() (*discovery.DeltaDiscoveryRequest, error)
}

// deltaType is one type of a stream: its subscription, the request the
// last response answered, and whether a response awaits the proxy's
// next request (a type is answered once per request, as go-control-plane
// does, so a proxy is never sent a second response before it read the
// first).
type deltaType struct {
	sub     *cache.DeltaSub
	req     *discovery.DeltaDiscoveryRequest
	waiting bool
	// force asks for an answer even when nothing differs: a wildcard
	// stream's first, which Envoy waits for.
	force bool
}

// serve runs one stream until it ends; typeURL is its type, or
// resource.AnyType for ADS.
func (d *deltaServer) serve(str deltaStream, typeURL string) error {
	id := d.streams.Add(1)
	reqs := make(chan *discovery.DeltaDiscoveryRequest)
	go receive(d.ctx, str, reqs, str.Recv)
	s := &deltaState{server: d, str: str, id: id, node: &core.Node{}, types: map[string]*deltaType{}, notify: make(chan struct{}, 1)}
	if err := d.tracker.OnDeltaStreamOpen(str.Context(), id, typeURL); err != nil {
		return err
	}
	defer func() {
		if s.cancel != nil {
			s.cancel()
		}
		d.tracker.OnDeltaStreamClosed(id, s.node)
	}()
	return loop(d.ctx, reqs, s.notify, s.answerAll, func(req *discovery.DeltaDiscoveryRequest) error { return s.request(req, typeURL) })
}

// deltaState is one stream's state, owned by its goroutine.
type deltaState struct {
	server *deltaServer
	str    deltaStream
	id     int64
	node   *core.Node
	key    string
	nonce  int64
	types  map[string]*deltaType
	notify chan struct{}
	cancel func()
}

// request vets and records a request, updates its type's subscription,
// and answers it when the node's view has something for it.
func (s *deltaState) request(req *discovery.DeltaDiscoveryRequest, defaultType string) error {
	if err := s.server.tracker.OnStreamDeltaRequest(s.id, req); err != nil {
		return err
	}
	// The node may come on the first request only.
	if req.GetNode() != nil {
		s.node = req.GetNode()
	} else {
		req.Node = s.node
	}
	if defaultType == resource.AnyType {
		if req.GetTypeUrl() == "" {
			return status.Errorf(codes.InvalidArgument, "type URL is required for ADS")
		}
	} else if req.GetTypeUrl() == "" {
		req.TypeUrl = defaultType
	}
	if s.cancel == nil && s.node.GetId() != "" {
		s.key = cache.NodeKey(s.node)
		s.cancel = s.server.store.NotifyViews(s.key, s.notify)
	}
	typ := req.GetTypeUrl()
	t := s.types[typ]
	if t == nil {
		t = &deltaType{sub: cache.NewDeltaSub(req.GetResourceNamesSubscribe(), req.GetResourceNamesUnsubscribe(), req.GetInitialResourceVersions(), true)}
		s.types[typ] = t
	} else {
		t.sub.Update(req.GetResourceNamesSubscribe(), req.GetResourceNamesUnsubscribe())
	}
	// Only the type's fields are kept: the request's names are in the
	// subscription.
	t.req = &discovery.DeltaDiscoveryRequest{Node: s.node, TypeUrl: typ, ResponseNonce: req.GetResponseNonce(), ErrorDetail: req.GetErrorDetail()}
	t.waiting = false
	t.force = t.sub.Wildcard() && req.GetResponseNonce() == ""
	return s.answer(typ, t)
}

// answerAll answers every type that has something new, after a new view.
func (s *deltaState) answerAll() error {
	for typ, t := range s.types {
		if err := s.answer(typ, t); err != nil {
			return err
		}
	}
	return nil
}

// answer sends the type's response if one is due and the proxy is not
// still to read the last.
func (s *deltaState) answer(typ string, t *deltaType) error {
	if t.waiting || s.key == "" {
		return nil
	}
	resp, ok := s.server.store.AnswerDelta(s.key, typ, t.sub, t.force)
	if !ok {
		return nil
	}
	s.nonce++
	resp.Nonce = strconv.FormatInt(s.nonce, 10)
	t.waiting, t.force = true, false
	s.server.tracker.OnStreamDeltaResponse(s.id, t.req, resp)
	return s.str.SendMsg(&deltaWire{resp})
}
