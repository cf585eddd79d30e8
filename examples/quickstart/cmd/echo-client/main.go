// Command echo-client is the quickstart's proxyless gRPC client. It dials an
// xds:/// target, so grpc-go itself asks Embassy for the listener, route,
// clusters and endpoints of the service and splits calls the way the
// Route says; the client only counts which backend answered.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"

	"embassy.dev/embassy/internal/echo"

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
	// method is the full method name called (echo.CallMethod or
	// echo.OtherMethod).
	method string
	// headers are sent as metadata with every call.
	headers  metadata.MD
	readyAny bool
}

// headerFlag collects repeated --header k=v flags.
type headerFlag struct{ md metadata.MD }

func (h *headerFlag) String() string {
	if h == nil || len(h.md) == 0 {
		return ""
	}
	var parts []string
	for k, vs := range h.md {
		for _, v := range vs {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, ",")
}

func (h *headerFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	if h.md == nil {
		h.md = metadata.MD{}
	}
	h.md.Append(k, v)
	return nil
}

// methodFlag accepts Call, Other or Whoami, or a full /embassy.demo.Echo/
// method.
func methodFlag(s string) (string, error) {
	switch s {
	case "Call", echo.CallMethod:
		return echo.CallMethod, nil
	case "Other", echo.OtherMethod:
		return echo.OtherMethod, nil
	case "Whoami", echo.WhoamiMethod:
		return echo.WhoamiMethod, nil
	}
	return "", fmt.Errorf("--method must be Call, Other or Whoami, not %q", s)
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

Every report counts calls by backend and by gRPC status, and gives the
latency percentiles (p50, p99, max) of the calls, failed ones included.
--header and --method choose what routes match on: metadata sent with every
call, and the method called (Call or Other).

--method Whoami makes one call, once ready, and prints what the server saw
of this client: whether the connection was TLS, and the SPIFFE ID and serial
of the client certificate (with --json, {"server":..,"security":"tls",
"spiffeId":..,"serial":..,"notBefore":..,"address":..}).

Security follows the mesh: the channel uses gRPC's xDS credentials, so the
cluster's UpstreamTlsContext decides. In an mTLS mesh the client presents the
certificate its embassy-agent keeps in the bootstrap's cert dir and checks the
server's SPIFFE ID; where the mesh says DISABLED, for a target that is not
xds:///, or with an insecure bootstrap (embassy-cp --insecure-xds, no
certificate to present), calls are plaintext.

Usage:
  echo-client [--bootstrap FILE] [--target xds:///echo.default:50051] [flags]

Examples:
  echo-client --bootstrap /tmp/embassy/echo-client.json --count 1000 --json
  echo-client --bootstrap /tmp/embassy/echo-client.json --interval 200ms --duration 10s
  echo-client --bootstrap /tmp/embassy/echo-client.json --header x-canary=true --method Other --count 100
  echo-client --bootstrap /tmp/embassy/echo-client.json --ready-any --timeout 5s --count 100
  echo-client --bootstrap /tmp/embassy/echo-client.json --method Whoami

Flags:
`

func main() {
	var cfg config
	var bootstrapFile string
	fs := flag.NewFlagSet("echo-client", flag.ExitOnError)
	fs.StringVar(&cfg.target, "target", "xds:///echo.default:50051", "gRPC `target` to dial; xds:///<service>.<namespace>:<port> for the mesh")
	fs.IntVar(&cfg.count, "count", 1000, "number of calls to make in burst mode")
	fs.IntVar(&cfg.concurrency, "concurrency", 4, "number of calls in flight at once")
	fs.BoolVar(&cfg.jsonOut, "json", false, `print JSON: {"total":N,"errors":N,"byBackend":{"v1":n},"firstError":"...","byCode":{"OK":n,"UNAVAILABLE":n},"p50Ms":F,"p99Ms":F,"maxMs":F}`)
	fs.DurationVar(&cfg.readyTimeout, "ready-timeout", 10*time.Second, "how long to wait for the first successful call")
	fs.BoolVar(&cfg.readyAny, "ready-any", false, "end the readiness wait at the first answer of any status, not only OK (for meshes that inject faults or time calls out)")
	var headers headerFlag
	fs.Var(&headers, "header", "send `name=value` as metadata with every call (repeatable)")
	method := fs.String("method", "Call", "Echo `method` to call: Call or Other; Whoami makes one call and prints the server's view of this client")
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
	cfg.headers = headers.md
	var err error
	if cfg.method, err = methodFlag(*method); err != nil {
		fmt.Fprintln(os.Stderr, "echo-client:", err)
		fs.Usage()
		os.Exit(2)
	}
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
