// Command echo-server is the quickstart's backend: a plain gRPC server of
// embassy.demo.Echo that answers every call with its --name. Run one per
// version (v1, v2) at the addresses the quickstart's Workloads declare; a
// proxyless echo-client finds them through Embassy's xDS endpoints.
//
// --delay and --fail-every make it slow or flaky on purpose, so route
// timeouts and retries can be watched doing their work.
//
// With --xds --bootstrap FILE it is an xDS-enabled gRPC server: it asks
// Embassy for the Listener of its --addr and serves as that Listener says,
// mTLS with the certificates its embassy-agent writes when the mesh is
// STRICT. Whoami then tells each caller which SPIFFE ID the server saw.
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
	"google.golang.org/grpc/credentials/insecure"
	xdscreds "google.golang.org/grpc/credentials/xds"
	"google.golang.org/grpc/xds"

	"embassy.dev/embassy/internal/echo"
	"embassy.dev/embassy/pkg/grpcauthz"
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
	xdsMode := fs.Bool("xds", false, "serve as an xDS-enabled gRPC server: security from the Listener Embassy serves for --addr (needs --bootstrap or GRPC_XDS_BOOTSTRAP)")
	authzSocket := fs.String("authz-socket", "", "have the workload's embassy-agent decide every call over its ext_authz `socket` (<agent socket dir>/authz.sock), so its policies, dry-run ones too, are evaluated and counted")
	bootstrapFile := fs.String("bootstrap", "", "xDS bootstrap `file` for --xds (embassyctl bootstrap grpc --workload NAME.NS --cert-dir DIR); ignored when GRPC_XDS_BOOTSTRAP or GRPC_XDS_BOOTSTRAP_CONFIG is set")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `echo-server serves the embassy.demo.Echo gRPC service and answers every
Call (and Other) with its name; Served answers with how many Call and Other
attempts arrived; Whoami answers with what the server saw of the caller (TLS
or not, the SPIFFE ID and serial of its certificate). It stops on SIGINT or
SIGTERM and then prints that count.

With --xds it is an xDS-enabled server: it accepts connections once Embassy
has sent the Listener for --addr (it prints "serving mode SERVING"), and the
Listener decides the security: mTLS with the certificate provider of the
bootstrap in a STRICT mesh, plaintext when the mesh says DISABLED. --addr
must be the Workload's address and port exactly.

Usage:
  echo-server [--addr 127.0.0.1:18081] [--name v1] [--delay 1s] [--fail-every 2 --fail-code UNAVAILABLE]
  echo-server --xds --bootstrap echo-v1.json --addr 127.0.0.1:18081 --name v1 --authz-socket DIR/authz.sock

With --authz-socket every call is first sent to the agent's ext_authz
server, as an Envoy sidecar would send it: the agent decides with the
workload's AuthorizationPolicies and reports the decisions (a dry-run
policy's would-denies too) to embassy-cp. A denied call fails with
PERMISSION_DENIED; an agent that cannot be asked fails it with UNAVAILABLE.

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
	if *bootstrapFile != "" && !*xdsMode {
		fmt.Fprintln(os.Stderr, "echo-server: --bootstrap needs --xds")
		os.Exit(2)
	}
	if *xdsMode {
		if *bootstrapFile == "" && !echo.BootstrapSet() {
			fmt.Fprintln(os.Stderr, "echo-server: --xds needs --bootstrap FILE (or GRPC_XDS_BOOTSTRAP)")
			os.Exit(2)
		}
		if *bootstrapFile != "" {
			if err := echo.UseBootstrap(*bootstrapFile); err != nil {
				fmt.Fprintln(os.Stderr, "echo-server:", err)
				os.Exit(1)
			}
		}
	}
	opts := echo.Options{Name: *name, Delay: *delay, FailEvery: *failEvery, FailCode: code}
	var serverOpts []grpc.ServerOption
	if *authzSocket != "" {
		checker, err := grpcauthz.Dial(*authzSocket)
		if err != nil {
			fmt.Fprintln(os.Stderr, "echo-server: --authz-socket:", err)
			os.Exit(2)
		}
		defer checker.Close()
		serverOpts = append(serverOpts, grpc.ChainUnaryInterceptor(checker.UnaryInterceptor()), grpc.ChainStreamInterceptor(checker.StreamInterceptor()))
	}
	if err := run(*addr, opts, *xdsMode, serverOpts...); err != nil {
		fmt.Fprintln(os.Stderr, "echo-server:", err)
		os.Exit(1)
	}
}

// server is what run needs of a plain or an xDS-enabled gRPC server.
type server interface {
	grpc.ServiceRegistrar
	Serve(net.Listener) error
	GracefulStop()
	Stop()
}

// newServer returns a plain gRPC server, or with xdsMode an xDS-enabled
// one whose credentials follow the Listener's security config, falling
// back to plaintext where it has none.
func newServer(name string, xdsMode bool, extra ...grpc.ServerOption) (server, error) {
	if !xdsMode {
		return grpc.NewServer(extra...), nil
	}
	// An insecure bootstrap means no certificate to serve with: plaintext.
	creds := insecure.NewCredentials()
	if !echo.InsecureBootstrap() {
		var err error
		if creds, err = xdscreds.NewServerCredentials(xdscreds.ServerOptions{FallbackCreds: insecure.NewCredentials()}); err != nil {
			return nil, err
		}
	}
	mode := xds.ServingModeCallback(func(addr net.Addr, args xds.ServingModeChangeArgs) {
		if args.Err != nil {
			fmt.Printf("echo-server %s on %s: serving mode %s: %v\n", name, addr, args.Mode, args.Err)
			return
		}
		fmt.Printf("echo-server %s on %s: serving mode %s\n", name, addr, args.Mode)
	})
	return xds.NewGRPCServer(append([]grpc.ServerOption{grpc.Creds(creds), mode}, extra...)...)
}

func run(addr string, opts echo.Options, xdsMode bool, serverOpts ...grpc.ServerOption) error {
	s, err := newServer(opts.Name, xdsMode, serverOpts...)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := echo.RegisterWith(s, opts)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	if xdsMode {
		fmt.Printf("echo-server %s listening on %s (xDS)\n", opts.Name, lis.Addr())
	} else {
		fmt.Printf("echo-server %s listening on %s\n", opts.Name, lis.Addr())
	}

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
