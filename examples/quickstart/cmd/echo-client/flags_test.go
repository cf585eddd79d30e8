package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/internal/echo"
	"embassy.dev/embassy/pkg/bootstrap"
)

func TestTallyCountsCodesAndPercentiles(t *testing.T) {
	tl := newTally()
	for i := 1; i <= 100; i++ {
		var err error
		if i%4 == 0 {
			err = status.Error(codes.Unavailable, "down")
		}
		if i == 100 {
			err = status.Error(codes.DeadlineExceeded, "slow")
		}
		tl.add("v1", err, time.Duration(i)*time.Millisecond)
	}
	var buf bytes.Buffer
	if err := tl.writeJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got tally
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.ByCode["OK"] != 75 || got.ByCode["UNAVAILABLE"] != 24 || got.ByCode["DEADLINE_EXCEEDED"] != 1 {
		t.Errorf("byCode = %v", got.ByCode)
	}
	if got.P50MS != 50 || got.P99MS != 99 || got.MaxMS != 100 {
		t.Errorf("p50 %v p99 %v max %v, want 50 99 100", got.P50MS, got.P99MS, got.MaxMS)
	}
	if got.Total != 100 || got.Errors != 25 || got.ByBackend["v1"] != 75 {
		t.Errorf("tally = %+v", got)
	}
}

func TestHeaderAndMethodFlags(t *testing.T) {
	var h headerFlag
	for _, s := range []string{"x-user=alice", "X-Canary=true", "x-user=bob"} {
		if err := h.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.md.Get("x-user"); len(got) != 2 || got[0] != "alice" || got[1] != "bob" {
		t.Errorf("x-user = %v", got)
	}
	if got := h.md.Get("x-canary"); len(got) != 1 || got[0] != "true" {
		t.Errorf("x-canary = %v", got)
	}
	for _, bad := range []string{"novalue", "=v"} {
		if err := h.Set(bad); err == nil {
			t.Errorf("--header %q accepted", bad)
		}
	}
	for in, want := range map[string]string{"Call": echo.CallMethod, "Other": echo.OtherMethod, echo.OtherMethod: echo.OtherMethod} {
		if got, err := methodFlag(in); err != nil || got != want {
			t.Errorf("methodFlag(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := methodFlag("Served"); err == nil {
		t.Error("--method Served accepted")
	}
}

// TestSendsHeadersAndMethodAndCountsCodes runs the client through xDS
// against a server failing every other attempt, and checks what the server
// saw and what the client reported.
func TestSendsHeadersAndMethodAndCountsCodes(t *testing.T) {
	var mu sync.Mutex
	methods := map[string]int{}
	var users []string
	seen := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		mu.Lock()
		methods[info.FullMethod]++
		users = append(users, md.Get("x-user")...)
		mu.Unlock()
		return h(ctx, req)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(grpc.UnaryInterceptor(seen))
	echo.RegisterWith(s, echo.Options{Name: "v1", FailEvery: 2})
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)

	cp := startFakeCP(t, map[string]string{"v1": lis.Addr().String()})
	cp.setWeights(t, map[string]uint32{"v1": 100})
	js, err := bootstrap.GRPCJSON(bootstrap.GRPCOptions{NodeID: testNode, XDSAddress: cp.addr})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "bootstrap.json")
	if err := os.WriteFile(file, js, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := client("--bootstrap", file, "--count", "10", "--concurrency", "1", "--json",
		"--method", "Other", "--header", "x-user=alice")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("echo-client: %v\n%s", err, stderr.String())
	}
	var got tally
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout.String())
	}
	// The readiness call is attempt 1 (answered); then the measured calls
	// alternate failing and answering.
	if got.Total != 10 || got.ByCode["OK"] != 5 || got.ByCode["UNAVAILABLE"] != 5 || got.Errors != 5 {
		t.Errorf("tally = %+v, want 10 calls, 5 OK and 5 UNAVAILABLE", got)
	}
	if got.MaxMS <= 0 || got.P50MS <= 0 || got.P50MS > got.P99MS || got.P99MS > got.MaxMS {
		t.Errorf("latencies p50 %v p99 %v max %v", got.P50MS, got.P99MS, got.MaxMS)
	}
	mu.Lock()
	defer mu.Unlock()
	if methods[echo.OtherMethod] != 11 || len(methods) != 1 {
		t.Errorf("server saw methods %v, want 11 calls of Other", methods)
	}
	if len(users) != 11 || users[0] != "alice" {
		t.Errorf("server saw x-user %v, want alice on all 11 calls", users)
	}
}

// TestReadyAnyAcceptsAFailedAnswer: with every call failing, the client
// only measures when --ready-any is given.
func TestReadyAnyAcceptsAFailedAnswer(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	echo.RegisterWith(s, echo.Options{Name: "v1", FailEvery: 1, FailCode: codes.ResourceExhausted})
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	cp := startFakeCP(t, map[string]string{"v1": lis.Addr().String()})
	cp.setWeights(t, map[string]uint32{"v1": 100})
	js, _ := bootstrap.GRPCJSON(bootstrap.GRPCOptions{NodeID: testNode, XDSAddress: cp.addr})
	file := filepath.Join(t.TempDir(), "bootstrap.json")
	if err := os.WriteFile(file, js, 0o600); err != nil {
		t.Fatal(err)
	}

	var stderr bytes.Buffer
	cmd := client("--bootstrap", file, "--count", "3", "--ready-timeout", "500ms")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil {
		t.Fatalf("without --ready-any the client measured calls that can never succeed")
	}

	var stdout bytes.Buffer
	cmd = client("--bootstrap", file, "--count", "3", "--ready-any", "--json")
	cmd.Stdout = &stdout
	var ee *exec.ExitError
	if err := cmd.Run(); !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, want 1 (no call succeeded)", err)
	}
	var got tally
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout.String())
	}
	if got.Total != 3 || got.ByCode["RESOURCE_EXHAUSTED"] != 3 {
		t.Errorf("tally = %+v, want 3 RESOURCE_EXHAUSTED", got)
	}
}
