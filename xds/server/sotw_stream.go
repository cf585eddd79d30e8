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

// sotwServer serves state-of-the-world xDS streams over the store: the
// protocol of go-control-plane's server (one answer per request, stale
// nonces ignored, the tracker's callbacks at the same points), with each
// stream's subscription a cache.SotwSub, which recognises a request that
// repeats its names instead of building a map of them. A SotW proxy
// repeats every name it subscribes to in each request, and go-control-
// plane's map of them per request was, with the tracker's and the
// store's passes over them, most of a push's work per proxy.
type sotwServer struct {
	ctx     context.Context
	store   *cache.Store
	tracker *tracker
	streams atomic.Int64
	// encode encodes an answer without its nonce, once for every stream
	// the answer goes to (cache.SotwResponse.Encoded).
	encode func(*discovery.DiscoveryResponse) ([]byte, error)
}

// sotwStream is a bidirectional SotW stream, any of ADS's or the
// per-type services'.
type sotwStream interface {
	grpc.ServerStream
	Send(*discovery.DiscoveryResponse) error
	Recv() (*discovery.DiscoveryRequest, error)
}

// sotwType is one type of a stream: its subscription, the request the
// next answer is for, the nonce of the last response, and whether that
// response awaits the proxy's next request.
type sotwType struct {
	sub *cache.SotwSub
	// names is the digest of the names sub took.
	names   namesDigest
	req     *discovery.DiscoveryRequest
	nonce   string
	waiting bool
}

// sotwState is one stream's state, owned by its goroutine.
type sotwState struct {
	server *sotwServer
	str    sotwStream
	id     int64
	node   *core.Node
	key    string
	nonce  int64
	types  map[string]*sotwType
	notify chan struct{}
	cancel func()
}

// serve runs one stream until it ends; typeURL is its type, or
// resource.AnyType for ADS.
func (d *sotwServer) serve(str sotwStream, typeURL string) error {
	id := d.streams.Add(1)
	reqs := make(chan *sotwRequest)
	go receive(d.ctx, str, reqs, func() (*sotwRequest, error) {
		req := newSotwRequest()
		return req, str.RecvMsg(req)
	})
	s := &sotwState{server: d, str: str, id: id, node: &core.Node{}, types: map[string]*sotwType{}, notify: make(chan struct{}, 1)}
	if err := d.tracker.OnStreamOpen(str.Context(), id, typeURL); err != nil {
		return err
	}
	defer func() {
		if s.cancel != nil {
			s.cancel()
		}
		d.tracker.OnStreamClosed(id, s.node)
	}()
	return loop(d.ctx, reqs, s.notify, s.answerAll, func(req *sotwRequest) error {
		defer req.release()
		return s.request(req, typeURL)
	})
}

// loop is a stream's goroutine, the same for SotW and Delta: it answers
// each notice of new state and handles each request in turn, until the
// stream or the server ends.
func loop[Req any](ctx context.Context, reqs <-chan *Req, notify <-chan struct{}, answerAll func() error, request func(*Req) error) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-notify:
			if err := answerAll(); err != nil {
				return err
			}
		case req, more := <-reqs:
			if !more {
				return nil
			}
			if req == nil {
				return status.Errorf(codes.Unavailable, "empty request")
			}
			if err := request(req); err != nil {
				return err
			}
		}
	}
}

// receive reads a stream's requests with recv until it ends.
func receive[Req any](ctx context.Context, str grpc.ServerStream, reqs chan<- Req, recv func() (Req, error)) {
	defer close(reqs)
	for {
		req, err := recv()
		if err != nil {
			return
		}
		select {
		case reqs <- req:
		case <-str.Context().Done():
			return
		case <-ctx.Done():
			return
		}
	}
}

// request records a request and, unless its nonce is stale, takes its
// names, if they changed, and answers it when the node's view has
// something for it.
func (s *sotwState) request(r *sotwRequest, defaultType string) error {
	req := r.DiscoveryRequest
	if req.GetNode() != nil {
		s.node = req.GetNode()
	} else {
		req.Node = s.node
	}
	switch {
	case defaultType == resource.AnyType && req.GetTypeUrl() == "":
		return status.Errorf(codes.InvalidArgument, "type URL is required for ADS")
	case req.GetTypeUrl() == "":
		req.TypeUrl = defaultType
	}
	typ := req.GetTypeUrl()
	t := s.types[typ]
	// A request that does not answer the last response is ignored, as
	// the protocol asks ("Resource updates"); the proxy answers it next.
	stale := t != nil && t.nonce != "" && req.GetResponseNonce() != t.nonce
	var sub *cache.SotwSub
	if !stale {
		// Taking the same names again changes nothing (SotwSub.Set).
		if digest := r.namesDigest(); t == nil || digest != t.names {
			names, err := r.names()
			if err != nil {
				return status.Errorf(codes.InvalidArgument, "%s request: %v", typ, err)
			}
			if t == nil {
				t = &sotwType{sub: cache.NewSotwSub(names)}
				s.types[typ] = t
			} else {
				t.sub.Set(names)
			}
			t.names = digest
		}
		sub = t.sub
	}
	names := func() []string {
		// Decoded before unless the digest matched; the same bytes
		// decode without error again.
		ns, _ := r.names()
		return ns
	}
	if err := s.server.tracker.sotwRequest(s.id, req, sub, names); err != nil {
		return err
	}
	if stale {
		return nil
	}
	if s.cancel == nil && s.node.GetId() != "" {
		s.key = cache.NodeKey(s.node)
		s.cancel = s.server.store.NotifyViews(s.key, s.notify)
	}
	// The names are in the subscription; the rest is what the answer
	// reads (the tracker may have set the version to a rejected one).
	t.req = &discovery.DiscoveryRequest{Node: s.node, TypeUrl: typ, VersionInfo: req.GetVersionInfo(),
		ResponseNonce: req.GetResponseNonce(), ErrorDetail: req.GetErrorDetail()}
	t.waiting = false
	return s.answer(t)
}

// answerAll answers every type that has something new, after a new view.
func (s *sotwState) answerAll() error {
	for _, t := range s.types {
		if err := s.answer(t); err != nil {
			return err
		}
	}
	return nil
}

// answer sends the type's response if one is due and the proxy is not
// still to answer the last.
func (s *sotwState) answer(t *sotwType) error {
	if t.waiting || t.req == nil || s.key == "" {
		return nil
	}
	resp, ok := s.server.store.AnswerSotW(s.key, t.req, t.sub)
	if !ok {
		return nil
	}
	out, err := resp.GetDiscoveryResponse()
	if err != nil {
		return err
	}
	body, err := resp.Encoded(s.server.encode)
	if err != nil {
		return err
	}
	s.nonce++
	out.Nonce = strconv.FormatInt(s.nonce, 10)
	t.sub.Answered(resp.GetReturnedResources())
	t.nonce, t.waiting = out.Nonce, true
	s.server.tracker.OnStreamResponse(s.str.Context(), s.id, t.req, out)
	return s.str.SendMsg(&sotwWire{DiscoveryResponse: out, body: body})
}
