// Package echo is the demo's gRPC service, embassy.demo.Echo, written by
// hand so the demo needs no protoc: its one unary method, Call, takes and
// returns a google.protobuf.StringValue. A server answers with its own name,
// which lets a client count how traffic splits across backends.
package echo

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ServiceName is the fully qualified gRPC service name.
const ServiceName = "embassy.demo.Echo"

// CallMethod is the full method name of Call, as it appears in the HTTP/2
// :path and so in routes and authorization policies.
const CallMethod = "/" + ServiceName + "/Call"

// server answers every Call with its name.
type server struct{ name string }

// echoServer is the handler type ServiceDesc checks implementations against.
type echoServer interface {
	call(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
}

func (s *server) call(_ context.Context, _ *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	return wrapperspb.String(s.name), nil
}

// callHandler is what protoc-gen-go-grpc would generate for Call: decode the
// request, then run it through the server's interceptors.
func callHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(wrapperspb.StringValue)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(echoServer).call(ctx, in)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: CallMethod}
	handler := func(ctx context.Context, req any) (any, error) {
		return srv.(echoServer).call(ctx, req.(*wrapperspb.StringValue))
	}
	return interceptor(ctx, in, info, handler)
}

// serviceDesc describes embassy.demo.Echo to grpc-go.
var serviceDesc = grpc.ServiceDesc{
	ServiceName: ServiceName,
	HandlerType: (*echoServer)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Call", Handler: callHandler}},
	Metadata:    "embassy/demo/echo.proto",
}

// Register adds the Echo service to s; every Call is answered with name.
func Register(s grpc.ServiceRegistrar, name string) {
	s.RegisterService(&serviceDesc, &server{name: name})
}

// Call sends msg to the Echo service over cc and returns the answering
// server's name.
func Call(ctx context.Context, cc grpc.ClientConnInterface, msg string, opts ...grpc.CallOption) (string, error) {
	out := new(wrapperspb.StringValue)
	if err := cc.Invoke(ctx, CallMethod, wrapperspb.String(msg), out, opts...); err != nil {
		return "", err
	}
	return out.GetValue(), nil
}
