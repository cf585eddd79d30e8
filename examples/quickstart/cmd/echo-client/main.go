// Command echo-client is the quickstart's proxyless gRPC client. It dials an
// xds:/// target, so grpc-go itself asks Embassy for the listener, route,
// clusters and endpoints of the service and splits calls the way the
// Route says; the client only counts which backend answered.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	// Registers the xds:/// resolver and the xDS balancers.
	_ "google.golang.org/grpc/xds"
)

// config is the parsed command line.
type config struct {
	target       string
	count        int
	concurrency  int
	jsonOut      bool
	readyTimeout time.Duration
	callTimeout  time.Duration
	interval     time.Duration
	duration     time.Duration
	message      string
}

const usage = `echo-client calls embassy.demo.Echo through proxyless gRPC xDS and reports
which backend answered each call.

It first waits (up to --ready-timeout) for one call to succeed, so the xDS
configuration has arrived, then runs in one of two modes:

  burst (default): make --count calls with --concurrency workers, then print
    the split per backend name (counts and percentages of the successful
    calls) and the errors.
  watch (--interval and --duration): keep calling for --duration and print
    one line per --interval with that interval's split, so traffic can be
    seen moving while routes change.

grpc-go reads its xDS bootstrap from GRPC_XDS_BOOTSTRAP (a file) or
GRPC_XDS_BOOTSTRAP_CONFIG (the contents); --bootstrap sets the former.

Exit status: 0 when at least one measured call succeeded, 1 otherwise or when
the target never became ready, 2 for bad flags.

Usage:
  echo-client [--bootstrap FILE] [--target xds:///echo.default:50051] [flags]

Examples:
  echo-client --bootstrap /tmp/embassy/echo-client.json --count 1000 --json
  echo-client --bootstrap /tmp/embassy/echo-client.json --interval 200ms --duration 10s

Flags:
`

func main() {
	var cfg config
	var bootstrapFile string
	fs := flag.NewFlagSet("echo-client", flag.ExitOnError)
	fs.StringVar(&cfg.target, "target", "xds:///echo.default:50051", "gRPC `target` to dial; xds:///<service>.<namespace>:<port> for the mesh")
	fs.IntVar(&cfg.count, "count", 1000, "number of calls to make in burst mode")
	fs.IntVar(&cfg.concurrency, "concurrency", 4, "number of calls in flight at once")
	fs.BoolVar(&cfg.jsonOut, "json", false, `print JSON: {"total":N,"errors":N,"byBackend":{"v1":n},"firstError":"..."}`)
	fs.DurationVar(&cfg.readyTimeout, "ready-timeout", 10*time.Second, "how long to wait for the first successful call")
	fs.DurationVar(&cfg.callTimeout, "timeout", 5*time.Second, "deadline of each call")
	fs.DurationVar(&cfg.interval, "interval", 0, "watch mode: print one split per `interval` (needs --duration)")
	fs.DurationVar(&cfg.duration, "duration", 0, "watch mode: keep calling for this long")
	fs.StringVar(&cfg.message, "message", "hello", "the request message")
	fs.StringVar(&bootstrapFile, "bootstrap", "", "xDS bootstrap `file` (e.g. from embassyctl bootstrap grpc); ignored when GRPC_XDS_BOOTSTRAP or GRPC_XDS_BOOTSTRAP_CONFIG is set")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:])
	if err := cfg.check(fs.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "echo-client:", err)
		fs.Usage()
		os.Exit(2)
	}
	if bootstrapFile != "" {
		if err := useBootstrap(bootstrapFile); err != nil {
			fmt.Fprintln(os.Stderr, "echo-client:", err)
			os.Exit(1)
		}
	}
	ok, err := run(cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo-client:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

// check refuses flag combinations that cannot mean anything.
func (c config) check(args []string) error {
	switch {
	case len(args) > 0:
		return fmt.Errorf("unexpected arguments %q", args)
	case c.concurrency < 1:
		return fmt.Errorf("--concurrency must be at least 1")
	case c.readyTimeout <= 0 || c.callTimeout <= 0:
		return fmt.Errorf("--ready-timeout and --timeout must be positive")
	case (c.interval > 0) != (c.duration > 0):
		return fmt.Errorf("--interval and --duration go together")
	case c.interval < 0 || c.duration < 0:
		return fmt.Errorf("--interval and --duration must be positive")
	case c.interval == 0 && c.count < 1:
		return fmt.Errorf("--count must be at least 1")
	}
	return nil
}
