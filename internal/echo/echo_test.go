package echo_test

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/internal/echo"
)

func serve(t *testing.T, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(opts...)
	echo.Register(s, "v1")
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func TestCallAnswersWithServerName(t *testing.T) {
	var seen string
	intercept := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		seen = info.FullMethod
		return h(ctx, req)
	}
	cc := dial(t, serve(t, grpc.UnaryInterceptor(intercept)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 3; i++ {
		got, err := echo.Call(ctx, cc, "hello")
		if err != nil {
			t.Fatal(err)
		}
		if got != "v1" {
			t.Fatalf("Call = %q, want v1", got)
		}
	}
	if seen != "/embassy.demo.Echo/Call" {
		t.Errorf("interceptor saw method %q", seen)
	}
}

func TestUnknownMethodIsUnimplemented(t *testing.T) {
	cc := dial(t, serve(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := cc.Invoke(ctx, "/embassy.demo.Echo/Nope", nil, nil)
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("err = %v, want Unimplemented", err)
	}
}
