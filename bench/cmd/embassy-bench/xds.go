package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"embassy.dev/embassy/bench"
)

// The xDS section's flags.
var (
	proxies   = flag.Int("proxies", 500, "simulated proxies per phase")
	services  = flag.Int("services", 1000, "services in the generated mesh")
	endpoints = flag.Int("endpoints", 5, "workloads per service")
	routes    = flag.Int("route-every", 10, "give every Nth service a Route with an 80/20 split (0: none)")
	modes     = flag.String("modes", "sotw,delta", "protocols to measure, comma-separated: sotw, delta")
	servers   = flag.String("servers", "embassy,baseline", "servers to measure, comma-separated: embassy, baseline (a bare go-control-plane snapshot-cache server)")
	runs      = flag.Int("runs", 3, "runs of each server and protocol; the summary shows their medians, and the servers alternate which goes first")
	sweep     = flag.Bool("sweep", false, "measure every point of --sweep-proxies × --sweep-services (ignores --proxies and --services) and print one row per point")
	sweepP    = flag.String("sweep-proxies", "250,500,1000,2000,5000", "the proxies of --sweep's points, comma-separated")
	sweepS    = flag.String("sweep-services", "1000,5000", "the services of --sweep's points, comma-separated")
	scoped    = flag.Bool("scoped", false, "measure config bytes and heap per proxy with the Mesh's configScoping unset and set to explicit, each service calling 5 others; fails when the control plane has no config scoping")
	sidecarRt = flag.String("sidecar-routes", "", "the Mesh's spec.sidecarRoutes: shared (one outbound RouteConfiguration, the default) or perService (one per service, through Scoped RDS)")
	debounce  = flag.Duration("debounce", 100*time.Millisecond, "the control plane's push debounce (the baseline waits as long before pushing)")
	viaApply  = flag.Bool("apply", true, "seed embassy's mesh through an apply, with its validation and reference checks (false: one raw store commit)")
	conns     = flag.Int("conns", 8, "gRPC connections the proxies' streams share")
	window    = flag.Int("window", 100, "proxies connecting at once")
	connectTO = flag.Duration("connect-timeout", 5*time.Minute, "bound on connecting every proxy, per phase")
	changeTO  = flag.Duration("change-timeout", 3*time.Minute, "bound on one change reaching every proxy")
	deadline  = flag.Duration("deadline", 30*time.Minute, "bound on the whole run")
	inProc    = flag.Bool("in-process", false, "run the proxies in this process (their heap then counts as the servers')")
	memProf   = flag.String("memprofile", "", "write the servers' heap profile once each phase's proxies are configured, to this path with -SERVER-MODE-N appended")
	changeCPU = flag.String("change-cpuprofile", "", "write the servers' CPU profile of each change, from its commit until the next step, to this path with -SERVER-MODE-CHANGE-N appended (its samples are the change's CPU time)")
)

// xdsConfig builds the run's configuration from the flags.
func xdsConfig(exe string) (bench.Config, error) {
	cfg := bench.Config{
		Proxies:        *proxies,
		Mesh:           bench.MeshSize{Services: *services, EndpointsPerService: *endpoints, RouteEvery: *routes, SidecarRoutes: *sidecarRt},
		Runs:           *runs,
		Debounce:       *debounce,
		ViaApply:       *viaApply,
		Conns:          *conns,
		Window:         *window,
		ConnectTimeout: *connectTO,
		ChangeTimeout:  *changeTO,
		Log:            logWriter(),
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
			return cfg, fmt.Errorf("--modes: %q is not sotw or delta", m)
		}
	}
	for _, s := range strings.Split(*servers, ",") {
		switch srv := bench.Server(strings.TrimSpace(s)); srv {
		case bench.Embassy, bench.Baseline:
			cfg.Servers = append(cfg.Servers, srv)
		default:
			return cfg, fmt.Errorf("--servers: %q is not embassy or baseline", s)
		}
	}
	if *proxies < 1 || *services < 2 || *endpoints < 1 || *runs < 1 {
		return cfg, fmt.Errorf("need --proxies ≥ 1, --services ≥ 2, --endpoints ≥ 1 and --runs ≥ 1")
	}
	if *sweep && *scoped {
		return cfg, fmt.Errorf("--sweep and --scoped are separate runs: pick one")
	}
	return cfg, nil
}

// sweepPoints reads --sweep-proxies and --sweep-services.
func sweepPoints(endpoints int) (proxies, services []int, err error) {
	for _, f := range []struct {
		name string
		val  string
		out  *[]int
	}{{"--sweep-proxies", *sweepP, &proxies}, {"--sweep-services", *sweepS, &services}} {
		for _, v := range strings.Split(f.val, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 2 {
				return nil, nil, fmt.Errorf("%s: %q is not a whole number of at least 2", f.name, v)
			}
			*f.out = append(*f.out, n)
		}
	}
	if p, s := slices.Max(proxies), slices.Min(services); p > s*endpoints {
		return nil, nil, fmt.Errorf("--sweep-proxies: %d proxies need %d workloads, and %d services × %d endpoints have fewer", p, p, s, endpoints)
	}
	return proxies, services, nil
}

// runXDS runs the xDS section the flags ask for; it returns a process
// exit code.
func runXDS(ctx context.Context, exe string) int {
	cfg, err := xdsConfig(exe)
	if err != nil {
		fmt.Fprintf(os.Stderr, "embassy-bench: %v\n", err)
		return 2
	}
	start := time.Now()
	switch {
	case *scoped:
		err = runScoped(ctx, cfg)
	case *sweep:
		err = runSweep(ctx, cfg)
	default:
		err = runTable(ctx, cfg)
	}
	return exitCode(ctx, start, err)
}

// exitCode reports err, if any, and is the process's exit code for it:
// 3 when the global deadline ended the run, 1 for any other error.
func exitCode(ctx context.Context, start time.Time, err error) int {
	if err == nil {
		return 0
	}
	if ctx.Err() == context.DeadlineExceeded {
		fmt.Fprintf(os.Stderr, "embassy-bench: the global deadline (--deadline %v) was reached after %v: %v\n", *deadline, time.Since(start).Round(time.Second), err)
		return 3
	}
	fmt.Fprintf(os.Stderr, "embassy-bench: %v\n", err)
	return 1
}

func header(cfg bench.Config) {
	seed := "one store commit"
	if cfg.ViaApply {
		seed = "an apply"
	}
	fmt.Printf("embassy-bench: %d proxies, %d services × %d endpoints, a Route on every %dth service, debounce %v, embassy's mesh seeded by %s, %d runs\n\n",
		cfg.Proxies, cfg.Mesh.Services, cfg.Mesh.EndpointsPerService, cfg.Mesh.RouteEvery, cfg.Debounce, seed, cfg.Runs)
}

func runTable(ctx context.Context, cfg bench.Config) error {
	results, err := bench.Run(ctx, cfg)
	if len(results) > 0 {
		header(cfg)
		bench.WriteTable(os.Stdout, results)
		fmt.Printf("\nmedians of %d runs (heap: the server process's live heap after the proxies connected, minus before, per proxy):\n\n", cfg.Runs)
		bench.WriteSummary(os.Stdout, results)
	}
	return err
}

func runSweep(ctx context.Context, cfg bench.Config) error {
	sweepProxies, sweepServices, err := sweepPoints(cfg.Mesh.EndpointsPerService)
	if err != nil {
		return err
	}
	var all []bench.PhaseResult
	for _, s := range sweepServices {
		for _, p := range sweepProxies {
			c := cfg
			c.Proxies, c.Mesh.Services = p, s
			var res []bench.PhaseResult
			res, err = bench.Run(ctx, c)
			all = append(all, res...)
			if err != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	if len(all) > 0 {
		fmt.Printf("embassy-bench --sweep: medians of %d runs per point, %d endpoints per service, debounce %v\n\n", cfg.Runs, cfg.Mesh.EndpointsPerService, cfg.Debounce)
		bench.WriteSweep(os.Stdout, all)
	}
	return err
}

func runScoped(ctx context.Context, cfg bench.Config) error {
	unscoped, scopedRes, err := bench.RunScoped(ctx, cfg)
	if len(scopedRes) > 0 {
		fmt.Printf("embassy-bench --scoped: %d proxies, %d services × %d endpoints, each service calling %d others, medians of %d runs\n\n",
			cfg.Proxies, cfg.Mesh.Services, cfg.Mesh.EndpointsPerService, bench.ScopedCalls, cfg.Runs)
		bench.WriteScoped(os.Stdout, unscoped, scopedRes)
	}
	return err
}

// profiler writes the profiles --memprofile and --change-cpuprofile ask
// for at the moments the phases log: a heap profile when a phase's
// proxies are configured (when the bench measures heap per proxy), and a
// CPU profile from a change's commit to the phase's next log line.
type profiler struct {
	mu      sync.Mutex
	out     io.Writer
	n       int
	cpuFile *os.File
}

func logWriter() io.Writer {
	if *memProf == "" && *changeCPU == "" {
		return os.Stderr
	}
	return &profiler{out: os.Stderr}
}

func (h *profiler) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	line := string(p)
	h.stopCPU()
	f := strings.Fields(line)
	if len(f) < 3 {
		return h.out.Write(p)
	}
	phase := f[0] + "-" + strings.TrimSuffix(f[1], ":")
	switch {
	case *memProf != "" && strings.Contains(line, " proxies configured in "):
		h.n++
		if err := writeHeap(fmt.Sprintf("%s-%s-%d", *memProf, phase, h.n)); err != nil {
			fmt.Fprintf(h.out, "embassy-bench: --memprofile: %v\n", err)
		}
	case *changeCPU != "" && strings.Contains(line, " change, waiting for "):
		h.n++
		if err := h.startCPU(fmt.Sprintf("%s-%s-%s-%d", *changeCPU, phase, f[2], h.n)); err != nil {
			fmt.Fprintf(h.out, "embassy-bench: --change-cpuprofile: %v\n", err)
		}
	}
	return h.out.Write(p)
}

func (h *profiler) startCPU(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	h.cpuFile = f
	return nil
}

func (h *profiler) stopCPU() {
	if h.cpuFile != nil {
		pprof.StopCPUProfile()
		h.cpuFile.Close()
		h.cpuFile = nil
	}
}

func writeHeap(path string) error {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.WriteHeapProfile(f)
}
