package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// DefaultXDSRelayStreams bounds the ADS streams the relay carries at
// once. A gRPC application opens one per xDS server in its bootstrap, so
// a few dozen leave room for several processes of the workload.
const DefaultXDSRelayStreams = 64

// The relay's message limits are those of embassy-cp's xDS server, which
// keeps gRPC's defaults: requests of at most 4 MiB, responses as large as
// gRPC frames them. The relay refuses nothing the control plane would
// have taken or sent, and the application's own limit still applies.
const (
	relayMaxRequest  = 4 << 20
	relayMaxResponse = math.MaxInt32
)

// XDSRelayConfig turns on the agent's ADS relay on xds.sock.
type XDSRelayConfig struct {
	// XDSAddress is the control plane's xDS address (--cp, one or several
	// replicas'); the upstream is mTLS with the current SVID, as the
	// policy stream's (DialPolicyXDS).
	XDSAddress string
	// Dial, instead of XDSAddress, connects as it likes (tests).
	Dial XDSDialFunc
	// MaxStreams bounds the streams relayed at once
	// (DefaultXDSRelayStreams when zero).
	MaxStreams int
}

// XDSRelay serves the Aggregated Discovery Service to the workload's
// proxyless gRPC on a local socket and carries each stream, unchanged, to
// the control plane over the agent's channel. That channel lists every
// replica and fails over between them (pick_first), which gRPC's own xDS
// client does not do once it has its configuration (gRFC A71 falls back
// only for resources not cached yet): when the replica goes, the relayed
// stream ends with Unavailable, the application reconnects to the relay
// at once, and its new stream reaches the next replica that answers.
//
// Messages are relayed as the bytes they arrived as; only requests are
// decoded, to check that they speak for the agent's own workload. The
// control plane still authorizes the stream by the agent's SVID, which is
// the workload's.
type XDSRelay struct {
	node  string
	dial  XDSDialFunc
	ids   IdentityWatcher
	log   hclog.Logger
	slots chan struct{}

	mu   sync.Mutex
	conn *grpc.ClientConn
	svid *x509svid.SVID // the SVID conn presents
}

// NewXDSRelay returns a relay for the workload node (its node id) that
// opens its upstream with dial, presenting the SVID ids publishes.
func NewXDSRelay(node string, dial XDSDialFunc, ids IdentityWatcher, maxStreams int, log hclog.Logger) *XDSRelay {
	if maxStreams <= 0 {
		maxStreams = DefaultXDSRelayStreams
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &XDSRelay{node: node, dial: dial, ids: ids, log: log, slots: make(chan struct{}, maxStreams)}
}

// Serve relays the streams of lis until ctx is done, then closes lis and
// ends every relayed stream.
func (r *XDSRelay) Serve(ctx context.Context, lis net.Listener) error {
	g := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}),
		grpc.MaxRecvMsgSize(relayMaxRequest), grpc.MaxSendMsgSize(relayMaxResponse))
	g.RegisterService(&relayDesc, r)
	// sctx ends the helpers when serving fails as well as with ctx.
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		r.followRotations(sctx)
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		<-sctx.Done()
		g.Stop()
	}()
	err := g.Serve(lis)
	cancel()
	<-done
	<-done
	r.mu.Lock()
	if r.conn != nil {
		r.conn.Close()
		r.conn = nil
	}
	r.mu.Unlock()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// followRotations closes the upstream connection when the SVID rotates:
// TLS presents a client certificate only in its handshake, so the
// relayed streams end (Unavailable) and their applications reconnect
// over a connection that presents the new SVID.
func (r *XDSRelay) followRotations(ctx context.Context) {
	for {
		cur, changed := r.ids.Watch()
		r.identityChanged(cur)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// identityChanged closes the upstream connection when cur holds another
// SVID than the one it presents. An expired SVID (nil) keeps the
// connection: a new one could present nothing better.
func (r *XDSRelay) identityChanged(cur *Identity) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn != nil && cur != nil && cur.SVID != nil && cur.SVID != r.svid {
		r.log.Debug("the SVID rotated: relayed streams reconnect with it")
		r.conn.Close()
		r.conn = nil
	}
}

// upstream returns the connection to the control plane for the current
// SVID, dialling it on first use.
func (r *XDSRelay) upstream(ctx context.Context) (*grpc.ClientConn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn != nil {
		return r.conn, nil
	}
	cur, _ := r.ids.Watch()
	conn, err := r.dial(ctx, cur)
	if err != nil {
		return nil, err
	}
	r.conn, r.svid = conn, cur.SVID
	return conn, nil
}

// relayDesc is the Aggregated Discovery Service with raw handlers: the
// go-control-plane names, so clients find it as they find embassy-cp's.
var relayDesc = grpc.ServiceDesc{
	ServiceName: discovery.AggregatedDiscoveryService_ServiceDesc.ServiceName,
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{
		{StreamName: "StreamAggregatedResources", ServerStreams: true, ClientStreams: true,
			Handler: relayHandler(discovery.AggregatedDiscoveryService_StreamAggregatedResources_FullMethodName, func() nodeRequest { return &discovery.DiscoveryRequest{} })},
		{StreamName: "DeltaAggregatedResources", ServerStreams: true, ClientStreams: true,
			Handler: relayHandler(discovery.AggregatedDiscoveryService_DeltaAggregatedResources_FullMethodName, func() nodeRequest { return &discovery.DeltaDiscoveryRequest{} })},
	},
}

// nodeRequest is a SotW or Delta discovery request.
type nodeRequest interface {
	proto.Message
	GetNode() *core.Node
}

func relayHandler(method string, newReq func() nodeRequest) grpc.StreamHandler {
	return func(srv any, down grpc.ServerStream) error {
		return srv.(*XDSRelay).relay(down, method, newReq)
	}
}

// relay carries one downstream stream to the control plane: the first
// request is checked before anything is opened upstream, then both
// directions are copied until either side ends.
func (r *XDSRelay) relay(down grpc.ServerStream, method string, newReq func() nodeRequest) error {
	select {
	case r.slots <- struct{}{}:
		defer func() { <-r.slots }()
	default:
		return status.Errorf(codes.ResourceExhausted, "the agent relays at most %d xDS streams at once (embassy-agent --xds-relay-max-streams); close some or raise it", cap(r.slots))
	}
	first := &rawFrame{}
	if err := down.RecvMsg(first); err != nil {
		return err
	}
	if err := r.checkNode(first, newReq, true); err != nil {
		return err
	}
	// A request for another node cancels the stream with its refusal.
	ctx, cancel := context.WithCancelCause(down.Context())
	defer cancel(nil)
	conn, err := r.upstream(ctx)
	if err != nil {
		return status.Errorf(codes.Unavailable, "connecting to the control plane: %v", err)
	}
	// WaitForReady: while no replica answers, the stream waits for one
	// instead of failing, so the application is served as soon as one is.
	up, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method,
		grpc.ForceCodec(rawCodec{}), grpc.WaitForReady(true),
		grpc.MaxCallRecvMsgSize(relayMaxResponse), grpc.MaxCallSendMsgSize(relayMaxRequest))
	if err != nil {
		return upstreamEnded(err)
	}
	if err := up.SendMsg(first); err != nil {
		return upstreamEnded(up.RecvMsg(&rawFrame{}))
	}
	go r.requests(down, up, newReq, cancel)
	for {
		resp := &rawFrame{}
		if err := up.RecvMsg(resp); err != nil {
			if cause := context.Cause(ctx); cause != nil && down.Context().Err() == nil {
				return cause
			}
			if down.Context().Err() == nil {
				r.log.Debug("the control plane's side of a relayed stream ended; the application reconnects", "error", err)
			}
			return upstreamEnded(err)
		}
		if err := down.SendMsg(resp); err != nil {
			return err
		}
	}
}

// requests copies the application's requests upstream, checking each,
// until the application half-closes (then so does the upstream) or a
// side fails. A request for another node cancels the stream with its
// refusal.
func (r *XDSRelay) requests(down grpc.ServerStream, up grpc.ClientStream, newReq func() nodeRequest, cancel context.CancelCauseFunc) {
	for {
		req := &rawFrame{}
		if err := down.RecvMsg(req); err != nil {
			if errors.Is(err, io.EOF) {
				_ = up.CloseSend()
			}
			return
		}
		if err := r.checkNode(req, newReq, false); err != nil {
			cancel(err)
			return
		}
		if err := up.SendMsg(req); err != nil {
			// The upstream failed; relay reads why from its RecvMsg.
			return
		}
	}
}

// checkNode refuses a request that speaks for another node than the
// agent's workload. The first request of a stream must name the node;
// later ones may omit it (go-control-plane then keeps the first).
func (r *XDSRelay) checkNode(f *rawFrame, newReq func() nodeRequest, first bool) error {
	req := newReq()
	if err := proto.Unmarshal(*f, req); err != nil {
		return status.Errorf(codes.InvalidArgument, "the request is not a discovery request: %v", err)
	}
	id := req.GetNode().GetId()
	if id == r.node || (id == "" && !first) {
		return nil
	}
	return status.Errorf(codes.PermissionDenied,
		"node id %q: this agent relays the xDS of workload %s only; set node.id to %s in the bootstrap (embassyctl bootstrap grpc --workload %s --xds-relay DIR), or use the relay of that workload's own agent",
		id, r.node, r.node, r.node)
}

// upstreamEnded is how a relayed stream ends when the control plane's
// side does. A lost connection, a closed one or a stream the replica
// ended becomes Unavailable, which makes gRPC's xDS client reconnect to
// the relay at once, and the relay to the next replica that answers; a
// refusal of the control plane (PermissionDenied, InvalidArgument...)
// reaches the application as it was.
func upstreamEnded(err error) error {
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.OK, codes.Unavailable, codes.Canceled, codes.DeadlineExceeded, codes.Unknown, codes.Internal, codes.Aborted:
		return status.Errorf(codes.Unavailable, "the control plane ended the relayed stream (%v); reconnect", err)
	}
	return status.Errorf(st.Code(), "the control plane: %s", st.Message())
}

// rawFrame is one gRPC message as its bytes.
type rawFrame []byte

// rawCodec passes messages through as the bytes they are, so the relay
// never re-encodes what it carries.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	f, ok := v.(*rawFrame)
	if !ok {
		return nil, fmt.Errorf("xds relay: cannot marshal %T", v)
	}
	return *f, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	f, ok := v.(*rawFrame)
	if !ok {
		return fmt.Errorf("xds relay: cannot unmarshal into %T", v)
	}
	// The bytes are the relay's: gRPC hands a v1 codec a copy of its
	// buffers (mem.BufferSlice.Materialize).
	*f = data
	return nil
}

// Name is proto's, so both ends see the content type they expect.
func (rawCodec) Name() string { return "proto" }
