// Command embassy-demo-ha is `make demo-ha`: three embassy-cp replicas
// on embedded etcd under steady traffic, two of them killed -9 in turn;
// see internal/demoha.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"embassy.dev/embassy/internal/demoha"
)

func main() {
	cfg := demoha.Config{Out: os.Stdout}
	flag.StringVar(&cfg.Bin, "bin", "bin", "directory holding embassy-cp, embassyctl, embassy-agent, echo-server and echo-client (make build)")
	flag.StringVar(&cfg.Examples, "examples", "examples/quickstart", "the quickstart's directory")
	flag.Parse()
	// The demo bounds each of its waits; this bounds the whole.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := demoha.Run(ctx, cfg)
	if err != nil && ctx.Err() != nil {
		// What failed is what the interrupt stopped: say only that.
		fmt.Fprintf(os.Stderr, "demo-ha: stopped (%v): every process it started is stopped and its directory removed\n", context.Cause(ctx))
		os.Exit(130)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo-ha:", err)
		os.Exit(1)
	}
	for _, k := range res.Kills {
		if k.Converged == 0 {
			os.Exit(1)
		}
	}
	if res.Failed > 0 {
		os.Exit(1)
	}
}
