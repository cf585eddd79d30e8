package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"embassy.dev/embassy/bench"
)

// The authorization section's flags: Check latency and throughput of the
// agent's ext_authz beside a standalone OPA server deciding the same
// policy, printed after the identity table.
var (
	authzSection    = flag.Bool("authz", true, "also measure ext_authz Check latency and throughput beside a standalone OPA server")
	authzCalls      = flag.Int("authz-calls", 5000, "Checks per authorizer (the run of each also ends after --authz-duration)")
	authzDuration   = flag.Duration("authz-duration", 10*time.Second, "bound on the time each authorizer is measured")
	authzClients    = flag.Int("authz-clients", 2, "concurrent clients per authorizer, each on its own connection")
	authzOPA        = flag.String("authz-opa", "", "the opa binary to compare with (default: opa on PATH, else in `go env GOPATH`/bin, else go install it)")
	authzOPAInstall = flag.Bool("authz-opa-install", true, "go install "+bench.OPAModule+" when no opa binary is found")
)

// runAuthz prints the authorization table; it returns a process exit code.
func runAuthz(ctx context.Context) int {
	if !*authzSection {
		return 0
	}
	cfg := bench.AuthzConfig{Calls: *authzCalls, Duration: *authzDuration, Clients: *authzClients, OPA: *authzOPA, Log: os.Stderr}
	if cfg.OPA == "" {
		opa, err := bench.LocateOPA(ctx, *authzOPAInstall, os.Stderr)
		if err != nil {
			cfg.OPASkipped = err.Error()
			fmt.Fprintf(os.Stderr, "embassy-bench: authz: the OPA comparison is skipped: %v\n", err)
		}
		cfg.OPA = opa
	}
	rep, err := bench.MeasureAuthz(ctx, cfg)
	if rep != nil {
		fmt.Printf("\nauthz: a JWT-and-path policy (Rego v1, HS256), %d concurrent clients, up to %d calls or %v per authorizer\n\n",
			*authzClients, *authzCalls, *authzDuration)
		bench.WriteAuthzTable(os.Stdout, rep)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "embassy-bench: authz: %v\n", err)
		return 1
	}
	return 0
}
