// Package echo is the demo's gRPC service, embassy.demo.Echo, written by
// hand so the demo needs no protoc. Its unary methods take and return a
// google.protobuf.StringValue:
//
//   - Call and Other answer with the server's name, which lets a client
//     count how traffic splits across backends. Two methods exist so routes
//     that match on the gRPC method (the HTTP/2 :path) can be seen working.
//   - Served answers with how many Call and Other attempts the server has
//     received, failed ones included, so a test can tell whether a request
//     reached the server at all (fault injection) or how often (retries).
//   - Whoami answers with what the server saw of the caller (a Peer in
//     JSON): TLS or not, and the SPIFFE ID and serial of its certificate,
//     so mTLS and certificate rotation can be seen from the server's side.
//
// A server can be made slow (Options.Delay) or to fail every Nth attempt
// with a gRPC status (Options.FailEvery, Options.FailCode), to show
// timeouts and retries.
package echo

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ServiceName is the fully qualified gRPC service name.
const ServiceName = "embassy.demo.Echo"

// Full method names, as they appear in the HTTP/2 :path and so in routes
// and authorization policies.
const (
	CallMethod   = "/" + ServiceName + "/Call"
	OtherMethod  = "/" + ServiceName + "/Other"
	ServedMethod = "/" + ServiceName + "/Served"
)

// Options shape how a server answers Call and Other.
type Options struct {
	// Name is what every successful answer holds.
	Name string
	// Delay is waited before answering (or failing); a caller's deadline
	// or cancellation ends the wait early.
	Delay time.Duration
	// FailEvery > 0 makes every FailEvery-th attempt (the FailEvery-th,
	// the 2*FailEvery-th, ...) fail with FailCode.
	FailEvery uint64
	// FailCode is the status of failed attempts (default Unavailable).
	FailCode codes.Code
}

// Server is a registered Echo service; it counts the attempts it receives.
type Server struct {
	opts     Options
	attempts atomic.Uint64
}

// Attempts returns how many Call and Other requests the server received.
func (s *Server) Attempts() uint64 { return s.attempts.Load() }

// echoServer is the handler type ServiceDesc checks implementations against.
type echoServer interface {
	answer(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
	served(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
	whoami(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
}

func (s *Server) answer(ctx context.Context, _ *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	n := s.attempts.Add(1)
	if s.opts.Delay > 0 {
		t := time.NewTimer(s.opts.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	if s.opts.FailEvery > 0 && n%s.opts.FailEvery == 0 {
		return nil, status.Errorf(s.opts.FailCode, "%s fails attempt %d (every %d)", s.opts.Name, n, s.opts.FailEvery)
	}
	return wrapperspb.String(s.opts.Name), nil
}

func (s *Server) served(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	return wrapperspb.String(strconv.FormatUint(s.Attempts(), 10)), nil
}

// handler is what protoc-gen-go-grpc would generate for one method: decode
// the request, then run it through the server's interceptors.
func handler(fullMethod string, m func(echoServer, context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)) func(any, context.Context, func(any) error, grpc.UnaryServerInterceptor) (any, error) {
	return func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
		in := new(wrapperspb.StringValue)
		if err := dec(in); err != nil {
			return nil, err
		}
		if interceptor == nil {
			return m(srv.(echoServer), ctx, in)
		}
		info := &grpc.UnaryServerInfo{Server: srv, FullMethod: fullMethod}
		h := func(ctx context.Context, req any) (any, error) {
			return m(srv.(echoServer), ctx, req.(*wrapperspb.StringValue))
		}
		return interceptor(ctx, in, info, h)
	}
}

// serviceDesc describes embassy.demo.Echo to grpc-go.
var serviceDesc = grpc.ServiceDesc{
	ServiceName: ServiceName,
	HandlerType: (*echoServer)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "Call", Handler: handler(CallMethod, echoServer.answer)},
		{MethodName: "Other", Handler: handler(OtherMethod, echoServer.answer)},
		{MethodName: "Served", Handler: handler(ServedMethod, echoServer.served)},
		{MethodName: "Whoami", Handler: handler(WhoamiMethod, echoServer.whoami)},
	},
	Metadata: "embassy/demo/echo.proto",
}

// Register adds the Echo service to s; every Call is answered with name.
func Register(s grpc.ServiceRegistrar, name string) {
	RegisterWith(s, Options{Name: name})
}

// RegisterWith adds the Echo service to s, answering as opts say, and
// returns it so its attempts can be read.
func RegisterWith(s grpc.ServiceRegistrar, opts Options) *Server {
	if opts.FailEvery > 0 && opts.FailCode == codes.OK {
		opts.FailCode = codes.Unavailable
	}
	srv := &Server{opts: opts}
	s.RegisterService(&serviceDesc, srv)
	return srv
}

// Call sends msg to the Echo service's Call over cc and returns the
// answering server's name.
func Call(ctx context.Context, cc grpc.ClientConnInterface, msg string, opts ...grpc.CallOption) (string, error) {
	return Invoke(ctx, cc, CallMethod, msg, opts...)
}

// Invoke sends msg to one of the Echo methods (CallMethod, OtherMethod)
// and returns the answer.
func Invoke(ctx context.Context, cc grpc.ClientConnInterface, method, msg string, opts ...grpc.CallOption) (string, error) {
	out := new(wrapperspb.StringValue)
	if err := cc.Invoke(ctx, method, wrapperspb.String(msg), out, opts...); err != nil {
		return "", err
	}
	return out.GetValue(), nil
}

// Served asks the server behind cc how many Call and Other attempts it has
// received.
func Served(ctx context.Context, cc grpc.ClientConnInterface, opts ...grpc.CallOption) (uint64, error) {
	v, err := Invoke(ctx, cc, ServedMethod, "", opts...)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(v, 10, 64)
}

// ParseCode reads a gRPC status code by its canonical name (UNAVAILABLE,
// case-insensitive) or its number.
func ParseCode(s string) (codes.Code, error) {
	var c codes.Code
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		s = strconv.FormatUint(n, 10)
	} else {
		s = strconv.Quote(strings.ToUpper(s))
	}
	if err := c.UnmarshalJSON([]byte(s)); err != nil {
		return 0, err
	}
	return c, nil
}

// CodeName is a code's canonical name, as in the gRPC spec: OK,
// CANCELLED, DEADLINE_EXCEEDED, UNAVAILABLE, ...
func CodeName(c codes.Code) string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "CODE_" + strconv.Itoa(int(c))
}

var codeNames = []string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
	"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}
