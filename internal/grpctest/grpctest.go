// Package grpctest holds the plaintext gRPC plumbing that tests over real
// loopback sockets repeat: a client for an address, and a server on
// 127.0.0.1 with a client for it. Both are closed by the test's cleanup.
package grpctest

import (
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Dial is a plaintext client for addr, closed when the test ends. addr is
// anything grpc.NewClient takes, a unix:// socket included.
func Dial(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// Serve serves what register adds to a new gRPC server on a free port of
// 127.0.0.1 and returns a plaintext client for it. At cleanup the client
// closes first, then the server stops and Serve has returned: whatever the
// test registered for cleanup before calling Serve runs after that.
func Serve(t testing.TB, register func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	return ServeWith(t, nil, register)
}

// ServeWith is Serve on a gRPC server built with opts.
func ServeWith(t testing.TB, opts []grpc.ServerOption, register func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(opts...)
	register(g)
	served := make(chan struct{})
	go func() { defer close(served); _ = g.Serve(lis) }()
	t.Cleanup(func() { g.Stop(); <-served })
	return Dial(t, lis.Addr().String())
}
