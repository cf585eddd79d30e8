package grpcauthz_test

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/internal/echo"
	"embassy.dev/embassy/internal/grpctest"
	"embassy.dev/embassy/pkg/grpcauthz"
	"embassy.dev/embassy/policy/extauthz"
)

// recorder is an ext_authz server that denies the Echo service's Other
// method and remembers what it was asked.
type recorder struct {
	authv3.UnimplementedAuthorizationServer
	mu   sync.Mutex
	seen []*authv3.CheckRequest
}

func (r *recorder) Check(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	r.mu.Lock()
	r.seen = append(r.seen, req)
	r.mu.Unlock()
	if req.GetAttributes().GetRequest().GetHttp().GetPath() == echo.OtherMethod {
		return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.PermissionDenied), Message: "Other is not allowed"}}, nil
	}
	return &authv3.CheckResponse{Status: &rpcstatus.Status{}}, nil
}

func (r *recorder) last(t *testing.T) *authv3.CheckRequest {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) == 0 {
		t.Fatal("the ext_authz server was never asked")
	}
	return r.seen[len(r.seen)-1]
}

// serveAuthz serves rec on a unix socket, as the agent serves authz.sock.
func serveAuthz(t *testing.T, rec *recorder) (path string, stop func()) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "authz.sock")
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	authv3.RegisterAuthorizationServer(g, rec)
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	return path, g.Stop
}

// TestInterceptorAsksTheAgent serves the echo service behind the
// interceptor: an allowed call reaches the handler, a denied one fails
// with the agent's reason, and the request the agent saw is the one
// extauthz turns into the Rego input documented in docs/authorization.md.
func TestInterceptorAsksTheAgent(t *testing.T) {
	rec := &recorder{}
	sock, stopAuthz := serveAuthz(t, rec)
	// A relative path, as a shell user passes it, works as well.
	t.Chdir(filepath.Dir(sock))
	checker, err := grpcauthz.Dial(filepath.Base(sock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checker.Close() })
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(grpc.UnaryInterceptor(checker.UnaryInterceptor()))
	srv := echo.RegisterWith(s, echo.Options{Name: "v1"})
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	cc := grpctest.Dial(t, lis.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if got, err := echo.Call(ctx, cc, "hi"); err != nil || got != "v1" {
		t.Fatalf("an allowed call: %q, %v", got, err)
	}
	input, err := extauthz.BuildInput(rec.last(t))
	if err != nil {
		t.Fatal(err)
	}
	attrs := input["attributes"].(map[string]any)
	httpReq := attrs["request"].(map[string]any)["http"].(map[string]any)
	if httpReq["path"] != echo.CallMethod || httpReq["method"] != "POST" || httpReq["protocol"] != "HTTP/2" ||
		httpReq["headers"].(map[string]any)[":path"] != echo.CallMethod {
		t.Errorf("the agent saw request %v", httpReq)
	}
	if src := attrs["source"].(map[string]any)["address"]; src == nil {
		t.Errorf("the agent saw no source address: %v", attrs["source"])
	}
	if dst := attrs["destination"].(map[string]any)["address"].(map[string]any)["socketAddress"].(map[string]any); dst["portValue"] == nil {
		t.Errorf("the agent saw no destination port: %v", dst)
	}

	_, err = echo.Invoke(ctx, cc, echo.OtherMethod, "hi")
	if status.Code(err) != codes.PermissionDenied || status.Convert(err).Message() != "Other is not allowed" {
		t.Fatalf("a denied call: %v", err)
	}
	if n := srv.Attempts(); n != 1 {
		t.Fatalf("the handler ran %d times, want only for the allowed call", n)
	}

	stopAuthz()
	_, err = echo.Call(ctx, cc, "hi")
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("a call while the agent is gone: %v, want UNAVAILABLE (fail closed)", err)
	}
}
