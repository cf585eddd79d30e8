package extauthz

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"embassy.dev/embassy/internal/proccpu"
	"embassy.dev/embassy/policy/engine"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// BenchmarkCheckCache times Check called in process (no gRPC), with the
// decision cache off and on, for a policy on the caller and the path, so
// the difference is what a hit saves and the rest is what a Check costs
// besides the policy; with every allow logged (the agent's default) and
// with none, since the log's writer shares the CPU.
func BenchmarkCheckCache(b *testing.B) {
	bundle := compileRego(b, `package envoy.authz

default allow := false

allow if {
	input.attributes.source.principal == "spiffe://bookstore.example/ns/web/sa/frontend"
	startswith(input.attributes.request.http.path, "/api/books/")
}
`)
	req := httpRequest("GET", "/api/books/42?fields=title", map[string]string{"x-request-id": "bench", "user-agent": "bench/1.0"},
		"spiffe://bookstore.example/ns/web/sa/frontend")
	for _, c := range []struct {
		name   string
		size   int
		sample float64
	}{{"off", 0, 1}, {"on", 100, 1}, {"off-unlogged", 0, 0}, {"on-unlogged", 100, 0}} {
		b.Run(c.name, func(b *testing.B) {
			logger := hclog.New(&hclog.LoggerOptions{JSONFormat: true, Output: io.Discard})
			dl := NewDecisionLog(logger, nil, c.sample)
			defer dl.Close()
			s := New(load(b, bundle), Options{DecisionLog: dl, CacheSize: c.size})
			for b.Loop() {
				resp, err := s.Check(b.Context(), req)
				if err != nil || resp.GetStatus().GetCode() != int32(code.Code_OK) {
					b.Fatalf("%v %v", resp, err)
				}
			}
		})
	}
}

// BenchmarkCheckCacheGRPC times a cache hit through the gRPC API over a
// unix socket, every decision logged as the agent does by default, to
// show what of a cached call is gRPC's.
func BenchmarkCheckCacheGRPC(b *testing.B) {
	bundle := compileRego(b, "package envoy.authz\n\ndefault allow := false\n\nallow if input.attributes.source.principal == \"spiffe://d/ns/web/sa/frontend\"\n")
	dl := NewDecisionLog(hclog.New(&hclog.LoggerOptions{JSONFormat: true, Output: io.Discard}), nil, 1)
	defer dl.Close()
	client, srv := serve(b, load(b, bundle), Options{DecisionLog: dl, CacheSize: 100})
	waitReady(b, client, srv)
	benchChecks(b, client, httpRequest("GET", "/api/books/42", map[string]string{"x-request-id": "bench"}, "spiffe://d/ns/web/sa/frontend"))
	if st := srv.CacheStats(); st.Hits == 0 {
		b.Errorf("no hits: %+v", st)
	}
}

// BenchmarkCheckServerOptions times cache hits through gRPC on TCP
// loopback, eight clients each on its own connection, with the Check
// server's options, without the ones it could do without, and with
// others that could matter for small unary calls, to keep only those
// that measurably help. Client and server share the process, and the
// machine may be busy: compare the CPU per call (cpu-ns/op) of the rows
// of one run.
func BenchmarkCheckServerOptions(b *testing.B) {
	bundle := compileRego(b, "package envoy.authz\n\ndefault allow := false\n\nallow if input.attributes.source.principal == \"spiffe://d/ns/web/sa/frontend\"\n")
	req := httpRequest("GET", "/api/books/42", map[string]string{"x-request-id": "bench"}, "spiffe://d/ns/web/sa/frontend")
	for _, c := range []struct {
		name string
		opts []grpc.ServerOption
	}{
		{"base", baseServerOptions()},
		{"static-windows", append(baseServerOptions(), staticWindows()...)},
		{"static-windows+shared-write-buffer", append(append(baseServerOptions(), staticWindows()...), grpc.SharedWriteBuffer(true))},
		{"static-windows+64KiB-buffers", append(append(baseServerOptions(), staticWindows()...), grpc.WriteBufferSize(64<<10), grpc.ReadBufferSize(64<<10))},
	} {
		b.Run(c.name, func(b *testing.B) {
			srv := New(engine.New(), Options{CacheSize: 100, Timeout: time.Minute})
			if err := srv.Load(bundle); err != nil {
				b.Fatal(err)
			}
			g := grpc.NewServer(c.opts...)
			g.RegisterService(&checkService, srv)
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			go g.Serve(lis)
			defer g.Stop()
			clients := make(chan authv3.AuthorizationClient, 8)
			for range cap(clients) {
				conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
				if err != nil {
					b.Fatal(err)
				}
				defer conn.Close()
				clients <- authv3.NewAuthorizationClient(conn)
			}
			b.SetParallelism(max(1, cap(clients)/runtime.GOMAXPROCS(0)))
			b.ReportAllocs()
			b.ResetTimer()
			cpu := proccpu.Used()
			defer func() { b.ReportMetric(float64(proccpu.Used()-cpu)/float64(b.N), "cpu-ns/op") }()
			b.RunParallel(func(pb *testing.PB) {
				client := <-clients
				defer func() { clients <- client }()
				for pb.Next() {
					resp, err := client.Check(b.Context(), req)
					if err != nil || resp.GetStatus().GetCode() != int32(code.Code_OK) {
						b.Errorf("%v %v", resp, err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkCheckWireHit times a cache hit in process from the request's
// bytes to the response's: decoded, decided by Check and encoded, as
// every call was answered before CheckWire, and answered from the bytes
// by CheckWire; each with the decision logged as JSON (to io.Discard)
// and unlogged.
func BenchmarkCheckWireHit(b *testing.B) {
	bundle := compileRego(b, "package envoy.authz\n\ndefault allow := false\n\nallow if {\n\tinput.attributes.source.principal == \"spiffe://d/ns/a/sa/web\"\n\tstartswith(input.attributes.request.http.path, \"/api/\")\n}\n")
	raw, err := proto.Marshal(envoyRequest())
	if err != nil {
		b.Fatal(err)
	}
	for _, sample := range []float64{1, 0} {
		for _, path := range []struct {
			name  string
			check func(*Server, []byte) ([]byte, error)
		}{
			{"decode-check-encode", func(s *Server, raw []byte) ([]byte, error) { return CheckEncoded(b.Context(), s, raw) }},
			{"wire", func(s *Server, raw []byte) ([]byte, error) { return s.CheckWire(b.Context(), raw) }},
		} {
			b.Run(fmt.Sprintf("%s/logged=%v", path.name, sample == 1), func(b *testing.B) {
				dl := NewDecisionLogJSON(hclog.New(&hclog.LoggerOptions{JSONFormat: true, Output: io.Discard}), io.Discard, nil, sample)
				defer dl.Close()
				s := New(engine.New(), Options{DecisionLog: dl, CacheSize: 100, Timeout: time.Minute})
				if err := s.Load(bundle); err != nil {
					b.Fatal(err)
				}
				if _, err := path.check(s, raw); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := path.check(s, raw); err != nil {
						b.Fatal(err)
					}
				}
				if st := s.CacheStats(); st.Hits < uint64(b.N) {
					b.Fatalf("%d hits in %d calls", st.Hits, b.N)
				}
			})
		}
	}
}
