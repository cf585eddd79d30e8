// Command echo-server is the quickstart's backend: a plain gRPC server of
// embassy.demo.Echo that answers every call with its --name. Run one per
// version (v1, v2) at the addresses the quickstart's Workloads declare; a
// proxyless echo-client finds them through Embassy's xDS endpoints.
//
// --delay and --fail-every make it slow or flaky on purpose, so route
// timeouts and retries can be watched doing their work.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"embassy.dev/embassy/internal/echo"
)

// drainTimeout bounds a graceful stop, so a client holding a stream open
// cannot keep the process alive after SIGTERM.
const drainTimeout = 5 * time.Second

func main() {
	fs := flag.NewFlagSet("echo-server", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:18081", "`host:port` to listen on; must match the Workload's address and port")
	name := fs.String("name", "v1", "the `name` this server answers every call with, so clients can count the split")
	delay := fs.Duration("delay", 0, "wait this long before answering each Call or Other (ends early at the caller's deadline)")
	failEvery := fs.Uint64("fail-every", 0, "fail every `N`th Call or Other attempt (the Nth, 2Nth, ...) with --fail-code; 0 never fails")
	failCode := fs.String("fail-code", "UNAVAILABLE", "gRPC status `code` of failed attempts, by name (UNAVAILABLE) or number (14)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `echo-server serves the embassy.demo.Echo gRPC service and answers every
Call (and Other) with its name; Served answers with how many Call and Other
attempts arrived. It stops on SIGINT or SIGTERM and then prints that count.

Usage:
  echo-server [--addr 127.0.0.1:18081] [--name v1] [--delay 1s] [--fail-every 2 --fail-code UNAVAILABLE]

Flags:
`)
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "echo-server: unexpected arguments %q\n", fs.Args())
		os.Exit(2)
	}
	code, err := echo.ParseCode(*failCode)
	if err != nil || code == codes.OK {
		fmt.Fprintf(os.Stderr, "echo-server: --fail-code %q is not a gRPC error code\n", *failCode)
		os.Exit(2)
	}
	if *delay < 0 {
		fmt.Fprintln(os.Stderr, "echo-server: --delay must not be negative")
		os.Exit(2)
	}
	opts := echo.Options{Name: *name, Delay: *delay, FailEvery: *failEvery, FailCode: code}
	if err := run(*addr, opts); err != nil {
		fmt.Fprintln(os.Stderr, "echo-server:", err)
		os.Exit(1)
	}
}

func run(addr string, opts echo.Options) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s := grpc.NewServer()
	srv := echo.RegisterWith(s, opts)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	fmt.Printf("echo-server %s listening on %s\n", opts.Name, lis.Addr())

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	drained := make(chan struct{})
	go func() { s.GracefulStop(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(drainTimeout):
		s.Stop()
	}
	fmt.Printf("echo-server %s served %d attempts\n", opts.Name, srv.Attempts())
	return nil
}
