package extauthz

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"

	"embassy.dev/embassy/internal/bundletest"
	"embassy.dev/embassy/internal/syncbuf"
)

// serve starts a Server for e on a unix socket and returns a client of it.
func serve(t testing.TB, e *engine.Engine, o Options) (authv3.AuthorizationClient, *Server) {
	t.Helper()
	conn, s := serveConn(t, e, o)
	return authv3.NewAuthorizationClient(conn), s
}

// serveConn is serve, returning the client's connection.
func serveConn(t testing.TB, e *engine.Engine, o Options) (*grpc.ClientConn, *Server) {
	t.Helper()
	// Unix socket paths are short; t.TempDir's can be too long.
	dir, err := os.MkdirTemp("", "authz")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	lis, err := ListenUnix(dir)
	if err != nil {
		t.Fatal(err)
	}
	if o.Timeout == 0 {
		// The production deadline is tuned for Envoy's, not for a loaded
		// test machine: a test that is not about the deadline must not
		// fail on it.
		o.Timeout = time.Minute
	}
	s := New(e, o)
	done := make(chan error, 1)
	go func() { done <- s.Serve(lis) }()
	conn, err := grpc.NewClient("unix://"+filepath.Join(dir, dataplane.AuthzSocket),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		s.Stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return conn, s
}

// compileRego compiles one module with spec edits.
func compileRego(t testing.TB, rego string, edit ...func(*resource.AuthorizationPolicySpec)) *compile.Bundle {
	t.Helper()
	return bundletest.Compile(t, "default/test", rego, edit...)
}

func load(t testing.TB, b *compile.Bundle) *engine.Engine {
	t.Helper()
	e := engine.New()
	if err := e.Load(b); err != nil {
		t.Fatal(err)
	}
	return e
}

// httpRequest is a CheckRequest for an HTTP request.
func httpRequest(method, path string, headers map[string]string, principal string) *authv3.CheckRequest {
	h := map[string]any{"method": method, "path": path, "headers": headers}
	raw, _ := json.Marshal(map[string]any{"attributes": map[string]any{
		"source":  map[string]any{"principal": principal},
		"request": map[string]any{"http": h},
	}})
	var req authv3.CheckRequest
	if err := protojson.Unmarshal(raw, &req); err != nil {
		panic(err)
	}
	return &req
}

func check(t testing.TB, c authv3.AuthorizationClient, req *authv3.CheckRequest) *authv3.CheckResponse {
	t.Helper()
	resp, err := c.Check(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	syncbuf.Buffer
	flush func() // waits for the lines of the decisions made so far
}

// decisionLog is a DecisionLog writing JSON lines to b, which lines and
// String read once it has written the lines of every decision made.
func (b *syncBuffer) decisionLog(t testing.TB, logHeaderValues ...string) *DecisionLog {
	l := NewDecisionLog(jsonLogger(b), logHeaderValues, 1)
	t.Cleanup(l.Close)
	b.flush = l.Flush
	return l
}

// String is what was written, once the decision log caught up.
func (b *syncBuffer) String() string {
	if b.flush != nil {
		b.flush()
	}
	return b.Buffer.String()
}

// lines decodes each JSON log line.
func (b *syncBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	if b.flush != nil {
		b.flush()
	}
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func jsonLogger(w *syncBuffer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "authz", JSONFormat: true, Output: w, Level: hclog.Info})
}

func jsonString(v any) (string, error) {
	raw, err := json.Marshal(v)
	return string(raw), err
}
