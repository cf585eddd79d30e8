// Command embassy-bench measures how fast embassy-cp pushes a change to
// many proxies: it connects simulated Envoy sidecars over real ADS streams
// (state of the world, then Delta) to an in-process control plane serving a
// generated mesh, changes one service's endpoints and then one Route, and
// prints the time until every proxy ACKed each change, the bytes each push
// cost, and the control plane's heap per connected proxy.
//
// The proxies run in a child process (this binary with --proxies-child),
// so the heap measured is the control plane's alone.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"embassy.dev/embassy/bench"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		proxies   = flag.Int("proxies", 500, "simulated proxies per phase")
		services  = flag.Int("services", 1000, "services in the generated mesh")
		endpoints = flag.Int("endpoints", 5, "workloads per service")
		routes    = flag.Int("route-every", 10, "give every Nth service a Route with an 80/20 split (0: none)")
		modes     = flag.String("modes", "sotw,delta", "phases to run, comma-separated: sotw, delta")
		debounce  = flag.Duration("debounce", 100*time.Millisecond, "the control plane's push debounce")
		viaApply  = flag.Bool("apply", true, "seed the mesh through an apply, with its validation and reference checks (false: one raw store commit)")
		conns     = flag.Int("conns", 8, "gRPC connections the proxies' streams share")
		window    = flag.Int("window", 100, "proxies connecting at once")
		connectTO = flag.Duration("connect-timeout", 2*time.Minute, "bound on connecting every proxy, per phase")
		changeTO  = flag.Duration("change-timeout", time.Minute, "bound on one change reaching every proxy")
		deadline  = flag.Duration("deadline", 5*time.Minute, "bound on the whole run")
		cpuProf   = flag.String("cpuprofile", "", "write the control plane process's CPU profile to this file")
		inProc    = flag.Bool("in-process", false, "run the proxies in this process (their heap then counts as the control plane's)")
		child     = flag.Bool("proxies-child", false, "internal: run the simulated proxies for a parent embassy-bench")
	)
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
	cfg := bench.Config{
		Proxies:        *proxies,
		Mesh:           bench.MeshSize{Services: *services, EndpointsPerService: *endpoints, RouteEvery: *routes},
		Debounce:       *debounce,
		ViaApply:       *viaApply,
		Conns:          *conns,
		Window:         *window,
		ConnectTimeout: *connectTO,
		ChangeTimeout:  *changeTO,
		Log:            os.Stderr,
		NewClients: func(fc bench.FleetConfig) (bench.Clients, error) {
			return bench.StartChild(exe, []string{"--proxies-child", "--deadline", deadline.String()}, fc)
		},
	}
	if *inProc {
		cfg.NewClients = nil
	}
	for _, m := range strings.Split(*modes, ",") {
		switch mode := bench.Mode(strings.TrimSpace(m)); mode {
		case bench.SotW, bench.Delta:
			cfg.Modes = append(cfg.Modes, mode)
		default:
			fmt.Fprintf(os.Stderr, "embassy-bench: --modes: %q is not sotw or delta\n", m)
			return 2
		}
	}
	if *proxies < 1 || *services < 2 || *endpoints < 1 {
		fmt.Fprintln(os.Stderr, "embassy-bench: need --proxies ≥ 1, --services ≥ 2 and --endpoints ≥ 1")
		return 2
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
	start := time.Now()
	results, err := bench.Run(ctx, cfg)
	if len(results) > 0 {
		seed := "one store commit"
		if *viaApply {
			seed = "an apply"
		}
		fmt.Printf("embassy-bench: %d proxies, %d services × %d endpoints, a Route on every %dth service, debounce %v, mesh seeded by %s\n\n",
			*proxies, *services, *endpoints, *routes, *debounce, seed)
		bench.WriteTable(os.Stdout, results)
	}
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			fmt.Fprintf(os.Stderr, "embassy-bench: the global deadline (--deadline %v) was reached after %v: %v\n", *deadline, time.Since(start).Round(time.Second), err)
			return 3
		}
		fmt.Fprintf(os.Stderr, "embassy-bench: %v\n", err)
		return 1
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
