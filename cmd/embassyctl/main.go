// Command embassyctl applies, reads and deletes Embassy resources, shows
// what each proxy runs, and prints bootstraps for sidecars and proxyless
// gRPC clients.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
