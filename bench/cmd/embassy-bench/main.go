// Command embassy-bench measures how fast embassy-cp pushes a change to
// many proxies, beside a bare go-control-plane snapshot-cache server
// serving the same translated configuration: it connects simulated Envoy
// sidecars over real ADS streams (state of the world, then Delta) to each
// server in turn, changes one service's endpoints and then one Route, and
// prints the time until every proxy ACKed each change, the bytes each push
// cost, the heap per connected proxy, and the medians of several runs with
// embassy's ratio to the baseline.
//
// The proxies run in a child process (this binary with --proxies-child),
// so the heap measured is the servers' alone.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"embassy.dev/embassy/bench"
)

func main() {
	os.Exit(run())
}

var (
	cpuProf = flag.String("cpuprofile", "", "write this process's CPU profile (the servers', not the proxies') to this file")
	child   = flag.Bool("proxies-child", false, "internal: run the simulated proxies for a parent embassy-bench")
)

func run() int {
	flag.Usage = usage
	flag.Parse()
	// A watchdog for anything that ignores its context: the run ends, with
	// a clear message, shortly after the deadline whatever happens.
	time.AfterFunc(*deadline+15*time.Second, func() {
		fmt.Fprintf(os.Stderr, "embassy-bench: the global deadline (--deadline %v) passed and the run did not stop; exiting\n", *deadline)
		os.Exit(3)
	})
	ctx, cancel := context.WithTimeout(context.Background(), *deadline)
	defer cancel()

	if *authzChild {
		return serveAuthzChild(ctx)
	}
	if *replicaChild {
		return serveReplicaChild(ctx)
	}
	if *child {
		if err := bench.ServeChild(ctx, os.Stdin, os.Stdout); err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintf(os.Stderr, "embassy-bench (proxies): %v\n", err)
			return 1
		}
		return 0
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "embassy-bench: finding this binary to run the proxies: %v\n", err)
		return 1
	}
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			fmt.Fprintf(os.Stderr, "embassy-bench: --cpuprofile: %v\n", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "embassy-bench: --cpuprofile: %v\n", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	if *replicas < 0 {
		fmt.Fprintf(os.Stderr, "embassy-bench: --replicas %d: want a number of control planes (1 or more), or 0 for no replicas comparison\n", *replicas)
		return 2
	}
	if *replicas > 0 {
		return runReplicas(ctx, exe)
	}
	start := time.Now()
	if code := runXDS(ctx, exe); code != 0 {
		return code
	}
	if code := runIdentity(ctx); code != 0 {
		return code
	}
	if code := runAuthz(ctx, exe); code != 0 {
		return code
	}
	fmt.Printf("\ntotal %v\n", time.Since(start).Round(100*time.Millisecond))
	return 0
}

func usage() {
	fmt.Fprint(flag.CommandLine.Output(), `Usage: embassy-bench [flags]

Measures embassy-cp's xDS pushes beside a bare go-control-plane
snapshot-cache server serving the same translated configuration, then
SVID signing and ext_authz. The defaults (500 proxies, 1,000 services,
3 runs of each server and protocol) take a few minutes on 2 idle cores
(15 when other builds keep them busy); --identity=false --authz=false
leave out the later sections.

  --sweep    one row per point: 250 to 5,000 proxies, 1,000 and 5,000
             services (long: over an hour with both servers)
  --scoped   config bytes and heap per proxy with and without config
             scoping, on a call graph where each service calls 5 others
  --replicas N
             one control plane beside N sharing one etcd member, each in
             its own process, the proxies spread over them: push times,
             heap per proxy and per process (this comparison alone)

Flags:
`)
	flag.PrintDefaults()
}
