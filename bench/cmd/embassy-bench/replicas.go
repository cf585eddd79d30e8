package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"time"

	"embassy.dev/embassy/bench"
)

// The replicas section's flags.
var (
	replicas     = flag.Int("replicas", 0, "compare one control plane with this many sharing one etcd member, each in its own process, the proxies spread over them (0: off); runs only this comparison")
	replicaChild = flag.Bool("replica-child", false, "internal: run a control plane or an etcd member for a parent embassy-bench")
)

// flagSet says whether the command line set the flag name.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// serveReplicaChild runs one of a parent's control planes or its etcd
// member; it returns a process exit code.
func serveReplicaChild(ctx context.Context) int {
	if err := bench.ServeReplicaChild(ctx, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "embassy-bench (replica): %v\n", err)
		return 1
	}
	return 0
}

// runReplicas runs the --replicas comparison; it returns a process exit
// code.
func runReplicas(ctx context.Context, exe string) int {
	cfg, err := xdsConfig(exe)
	if err == nil && (*sweep || *scoped || flagSet("servers")) {
		err = fmt.Errorf("--replicas compares one control plane with %d on etcd, in a run of its own: leave out --sweep, --scoped and --servers", *replicas)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "embassy-bench: %v\n", err)
		return 2
	}
	cfg.Replicas = *replicas
	cfg.ReplicaCommand = func() *exec.Cmd {
		return exec.Command(exe, "--replica-child", "--deadline", deadline.String())
	}
	start := time.Now()
	results, err := bench.RunReplicas(ctx, cfg)
	if len(results) > 0 {
		header(cfg)
		fmt.Printf("single: one embassy-cp process on a memory store; replicas×%d: %d embassy-cp processes on the etcd store of one embedded etcd member, in a process of its own; the mesh seeded and every change committed through the first; proxy k connects to control plane k mod %d\n\n", cfg.Replicas, cfg.Replicas, cfg.Replicas)
		bench.WriteTable(os.Stdout, results)
		fmt.Printf("\nmedians of %d runs (heap per connected proxy: every control plane's live heap after the proxies connected, minus before, summed, per proxy):\n\n", cfg.Runs)
		bench.WriteReplicaSummary(os.Stdout, results, cfg.Replicas)
		fmt.Printf("\ntotal %v\n", time.Since(start).Round(100*time.Millisecond))
	}
	return exitCode(ctx, start, err)
}
