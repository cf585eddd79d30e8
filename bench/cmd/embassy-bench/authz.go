package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"embassy.dev/embassy/bench"
	"embassy.dev/embassy/policy/extauthz"
)

// The authorization section's flags: embassy's ext_authz Check server
// beside a peer deciding the same policies, printed after the identity
// table.
var (
	authzSection    = flag.Bool("authz", true, "also measure ext_authz Check beside a peer authorizer (--authz-peer, else a standalone OPA server)")
	authzCalls      = flag.Int("authz-calls", 5000, "Checks per authorizer per round (each run also ends after --authz-duration)")
	authzDuration   = flag.Duration("authz-duration", 10*time.Second, "bound on the time of each authorizer's round")
	authzRounds     = flag.Int("authz-rounds", 3, "rounds per scenario, alternating which authorizer goes first")
	authzClients    = flag.String("authz-clients", "2,8", "concurrent clients of the JWT scenario, comma-separated (the cache scenarios use the largest), each on its own connection")
	authzCacheSize  = flag.Int("authz-cache-size", extauthz.DefaultCacheSize, "embassy's decision cache in the cache scenario")
	authzPeer       = flag.String("authz-peer", "", "an opa-envoy-plugin binary to compare with over gRPC on TCP loopback (built outside this project; without it the bench compares with the OPA server over HTTP)")
	authzOPA        = flag.String("authz-opa", "", "the opa binary to compare with when there is no --authz-peer (default: opa on PATH, else in `go env GOPATH`/bin, else go install it)")
	authzOPAInstall = flag.Bool("authz-opa-install", true, "go install "+bench.OPAModule+" when no opa binary is found")
	authzPin        = flag.Bool("authz-pin", true, "run both Check servers on one CPU (taskset) and the clients on the others, when there are two or more, so the ratio measures the servers rather than the clients' share of the cores")
	authzPeerJWT    = flag.Bool("authz-peer-jwt-cache", false, "turn on, in the --authz-peer plugin, OPA's verified-token cache that embassy runs with (off in the plugin's defaults)")
	authzProfiles   = flag.String("authz-cpuprofile", "", "path prefix: embassy's Check server writes each scenario's CPU profile to PREFIX-N.prof")
	authzChild      = flag.Bool("authz-child", false, "internal: serve embassy's Check for a parent embassy-bench")
)

// serveAuthzChild runs the child side of the authorization section; it
// returns a process exit code.
func serveAuthzChild(ctx context.Context) int {
	if err := bench.ServeAuthzChild(ctx, os.Stdin, os.Stdout); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "embassy-bench (authz child): %v\n", err)
		return 1
	}
	return 0
}

// runAuthz prints the authorization table; it returns a process exit code.
func runAuthz(ctx context.Context, exe string) int {
	if !*authzSection {
		return 0
	}
	clients, err := parseClients(*authzClients)
	if err != nil {
		fmt.Fprintf(os.Stderr, "embassy-bench: --authz-clients: %v\n", err)
		return 2
	}
	cfg := bench.AuthzConfig{
		Calls: *authzCalls, Duration: *authzDuration, Rounds: *authzRounds, Clients: clients,
		CacheSize: *authzCacheSize, Peer: *authzPeer, OPA: *authzOPA, Log: os.Stderr, Pin: *authzPin, PeerJWTCache: *authzPeerJWT, CPUProfiles: *authzProfiles,
		Child: func() *exec.Cmd { return exec.Command(exe, "--authz-child") },
	}
	if cfg.Peer == "" && cfg.OPA == "" {
		fmt.Fprintln(os.Stderr, "embassy-bench: authz: no --authz-peer: comparing with the OPA server over HTTP, a weaker peer than the opa-envoy-plugin")
		opa, err := bench.LocateOPA(ctx, *authzOPAInstall, os.Stderr)
		if err != nil {
			cfg.OPASkipped = err.Error()
			fmt.Fprintf(os.Stderr, "embassy-bench: authz: the comparison is skipped: %v\n", err)
		}
		cfg.OPA = opa
	}
	rep, err := bench.MeasureAuthz(ctx, cfg)
	if rep != nil {
		fmt.Printf("\nauthz: a JWT-and-path policy (Rego v1, HS256) and a callers-and-paths policy, up to %d calls or %v per authorizer per round\n",
			*authzCalls, *authzDuration)
		bench.WriteAuthzTable(os.Stdout, rep)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "embassy-bench: authz: %v\n", err)
		return 1
	}
	return 0
}

func parseClients(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: want positive numbers such as 2,8", f)
		}
		out = append(out, n)
	}
	return out, nil
}
