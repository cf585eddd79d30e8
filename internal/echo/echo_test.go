package echo_test

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/internal/echo"
	"embassy.dev/embassy/internal/grpctest"
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

func TestCallAnswersWithServerName(t *testing.T) {
	var seen string
	intercept := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		seen = info.FullMethod
		return h(ctx, req)
	}
	cc := grpctest.Dial(t, serve(t, grpc.UnaryInterceptor(intercept)))
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
	cc := grpctest.Dial(t, serve(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := cc.Invoke(ctx, "/embassy.demo.Echo/Nope", nil, nil)
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("err = %v, want Unimplemented", err)
	}
}

func serveWith(t *testing.T, opts echo.Options) (*echo.Server, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	srv := echo.RegisterWith(s, opts)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return srv, lis.Addr().String()
}

func TestOtherAnswersAndServedCounts(t *testing.T) {
	srv, addr := serveWith(t, echo.Options{Name: "v2"})
	cc := grpctest.Dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, m := range []string{echo.CallMethod, echo.OtherMethod, echo.OtherMethod} {
		if got, err := echo.Invoke(ctx, cc, m, "x"); err != nil || got != "v2" {
			t.Fatalf("%s = %q, %v; want v2", m, got, err)
		}
	}
	n, err := echo.Served(ctx, cc)
	if err != nil || n != 3 || srv.Attempts() != 3 {
		t.Fatalf("Served = %d, %v; Attempts = %d; want 3 (Served itself is not counted)", n, err, srv.Attempts())
	}
}

func TestFailEveryFailsEveryNthAttempt(t *testing.T) {
	_, addr := serveWith(t, echo.Options{Name: "v1", FailEvery: 3, FailCode: codes.ResourceExhausted})
	cc := grpctest.Dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []codes.Code
	for i := 0; i < 6; i++ {
		_, err := echo.Call(ctx, cc, "x")
		got = append(got, status.Code(err))
	}
	want := []codes.Code{codes.OK, codes.OK, codes.ResourceExhausted, codes.OK, codes.OK, codes.ResourceExhausted}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("codes = %v, want %v", got, want)
		}
	}
}

func TestFailEveryDefaultsToUnavailable(t *testing.T) {
	_, addr := serveWith(t, echo.Options{Name: "v1", FailEvery: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := echo.Call(ctx, grpctest.Dial(t, addr), "x"); status.Code(err) != codes.Unavailable {
		t.Fatalf("err = %v, want Unavailable", err)
	}
}

func TestDelayEndsAtTheCallersDeadline(t *testing.T) {
	srv, addr := serveWith(t, echo.Options{Name: "v1", Delay: 5 * time.Second})
	cc := grpctest.Dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := echo.Call(ctx, cc, "x")
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("call took %s with a 100ms deadline", d)
	}
	if srv.Attempts() != 1 {
		t.Fatalf("attempts = %d, want 1", srv.Attempts())
	}
}

func TestDelayDelaysTheAnswer(t *testing.T) {
	_, addr := serveWith(t, echo.Options{Name: "v1", Delay: 150 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cc := grpctest.Dial(t, addr)
	start := time.Now()
	if _, err := echo.Call(ctx, cc, "x"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("answered after %s, want at least 150ms", d)
	}
}

func TestParseCodeAndCodeName(t *testing.T) {
	for in, want := range map[string]codes.Code{
		"UNAVAILABLE": codes.Unavailable, "unavailable": codes.Unavailable,
		"14": codes.Unavailable, "DEADLINE_EXCEEDED": codes.DeadlineExceeded, "OK": codes.OK,
	} {
		got, err := echo.ParseCode(in)
		if err != nil || got != want {
			t.Errorf("ParseCode(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "NOPE", "17", "-1"} {
		if _, err := echo.ParseCode(bad); err == nil {
			t.Errorf("ParseCode(%q) accepted", bad)
		}
	}
	if got := echo.CodeName(codes.DeadlineExceeded); got != "DEADLINE_EXCEEDED" {
		t.Errorf("CodeName(DeadlineExceeded) = %q", got)
	}
	if got := echo.CodeName(codes.Canceled); got != "CANCELLED" {
		t.Errorf("CodeName(Canceled) = %q", got)
	}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if back, err := echo.ParseCode(echo.CodeName(c)); err != nil || back != c {
			t.Errorf("round trip of %v: %v, %v", c, back, err)
		}
	}
}
