package extauthz

import (
	"context"
	"errors"
	"net"
	"runtime"
	"sync"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"

	"embassy.dev/embassy/internal/wirecodec"
)

// WireChecker decides Checks in their wire form: it takes a
// CheckRequest's bytes and returns its CheckResponse's, so that an answer
// it knows already (a cached decision) costs neither decoding the request
// nor building the response.
type WireChecker interface {
	CheckWire(ctx context.Context, req []byte) ([]byte, error)
}

// GRPCServer serves one Check service over any number of listeners at
// once (a unix socket and a loopback port), on a gRPC server made on the
// first Serve and suited to Check: long-lived stream workers keep the
// deep stacks OPA's evaluation grows, where a goroutine per call would
// copy its stack up every time, and Check is served through its own
// service description and codec, which hand the checker the request's
// bytes (WireChecker). The agent's Authz and a Server each serve through
// one.
type GRPCServer struct {
	check WireChecker

	mu sync.Mutex
	g  *grpc.Server
}

// NewGRPCServer returns a GRPCServer for check.
func NewGRPCServer(check WireChecker) *GRPCServer {
	return &GRPCServer{check: check}
}

// Serve serves Check on lis until Stop; Stop's return is not an error.
func (s *GRPCServer) Serve(lis net.Listener) error {
	s.mu.Lock()
	if s.g == nil {
		s.g = grpc.NewServer(append(baseServerOptions(), staticWindows()...)...)
		s.g.RegisterService(&checkService, s.check)
	}
	g := s.g
	s.mu.Unlock()
	if err := g.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// Stop stops every Serve, letting calls in flight finish.
func (s *GRPCServer) Stop() {
	s.mu.Lock()
	g := s.g
	s.mu.Unlock()
	if g != nil {
		g.GracefulStop()
	}
}

// baseServerOptions are the options Check's server cannot do without:
// its codec, and the stream workers.
func baseServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.NumStreamWorkers(uint32(4 * runtime.GOMAXPROCS(0))),
		wirecodec.ServerOption(),
	}
}

// checkWindow is the flow-control window of each connection and stream:
// a thousand Checks of about a kilobyte each in flight, far more than a
// sidecar keeps.
const checkWindow = 1 << 20

// staticWindows fixes the flow-control windows. By default gRPC sizes
// them as it goes, pinging the client to estimate the bandwidth on the
// data frames it receives: for small unary calls such as Check that is
// a ping, its ack and a window update written and read every few calls,
// which BenchmarkCheckServerOptions shows costs more than it saves.
func staticWindows() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.InitialWindowSize(checkWindow), grpc.InitialConnWindowSize(checkWindow)}
}

// checkService is envoy.service.auth.v3.Authorization with a Check that
// takes and returns wire bytes (wireMessage).
var checkService = grpc.ServiceDesc{
	ServiceName: authv3.Authorization_ServiceDesc.ServiceName,
	HandlerType: (*WireChecker)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Check", Handler: checkWireHandler}},
	Metadata:    authv3.Authorization_ServiceDesc.Metadata,
}

// checkWireHandler serves one Check. The server has no interceptors, so
// there is none to call.
func checkWireHandler(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
	in := new(wireMessage)
	if err := dec(in); err != nil {
		return nil, err
	}
	defer in.buf.Free()
	out, err := srv.(WireChecker).CheckWire(ctx, in.buf.ReadOnlyData())
	if err != nil {
		return nil, err
	}
	return &wireMessage{buf: mem.SliceBuffer(out)}, nil
}

// wireMessage is a message in its wire form, which the server's codec
// (wirecodec) passes through as it is.
type wireMessage struct{ buf mem.Buffer }

func (w *wireMessage) EncodeWire(encoding.CodecV2) (mem.BufferSlice, error) {
	return mem.BufferSlice{w.buf}, nil
}

// DecodeWire keeps a reference to data, which the message's handler
// frees.
func (w *wireMessage) DecodeWire(data mem.BufferSlice) error {
	w.buf = data.MaterializeToBuffer(mem.DefaultBufferPool())
	return nil
}
