// Command echo-server is the quickstart's backend: a plain gRPC server of
// embassy.demo.Echo that answers every call with its --name. Run one per
// version (v1, v2) at the addresses the quickstart's Workloads declare; a
// proxyless echo-client finds them through Embassy's xDS endpoints.
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

	"embassy.dev/embassy/internal/echo"
)

// drainTimeout bounds a graceful stop, so a client holding a stream open
// cannot keep the process alive after SIGTERM.
const drainTimeout = 5 * time.Second

func main() {
	fs := flag.NewFlagSet("echo-server", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:18081", "`host:port` to listen on; must match the Workload's address and port")
	name := fs.String("name", "v1", "the `name` this server answers every call with, so clients can count the split")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `echo-server serves the embassy.demo.Echo gRPC service and answers every
Call with its name. It stops on SIGINT or SIGTERM.

Usage:
  echo-server [--addr 127.0.0.1:18081] [--name v1]

Flags:
`)
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "echo-server: unexpected arguments %q\n", fs.Args())
		os.Exit(2)
	}
	if err := run(*addr, *name); err != nil {
		fmt.Fprintln(os.Stderr, "echo-server:", err)
		os.Exit(1)
	}
}

func run(addr, name string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s := grpc.NewServer()
	echo.Register(s, name)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	fmt.Printf("echo-server %s listening on %s\n", name, lis.Addr())

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
	return nil
}
