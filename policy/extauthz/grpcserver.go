package extauthz

import (
	"errors"
	"net"
	"runtime"
	"sync"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
)

// GRPCServer serves one Check service over any number of listeners at
// once (a unix socket and a loopback port), on a gRPC server made on the
// first Serve and suited to Check: long-lived stream workers keep the
// deep stacks OPA's evaluation grows, where a goroutine per call would
// copy its stack up every time. The agent's Authz and a Server each serve
// through one.
type GRPCServer struct {
	check authv3.AuthorizationServer

	mu sync.Mutex
	g  *grpc.Server
}

// NewGRPCServer returns a GRPCServer for check.
func NewGRPCServer(check authv3.AuthorizationServer) *GRPCServer {
	return &GRPCServer{check: check}
}

// Serve serves Check on lis until Stop; Stop's return is not an error.
func (s *GRPCServer) Serve(lis net.Listener) error {
	s.mu.Lock()
	if s.g == nil {
		s.g = grpc.NewServer(grpc.NumStreamWorkers(uint32(4 * runtime.GOMAXPROCS(0))))
		authv3.RegisterAuthorizationServer(s.g, s.check)
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
