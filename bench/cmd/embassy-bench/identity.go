package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"embassy.dev/embassy/bench"
)

// The identity section's flags: SVIDs signed per second through the real
// identity API beside the raw signing baseline, printed after the xDS
// table.
var (
	identitySection  = flag.Bool("identity", true, "also measure SVIDs signed per second: raw x509 baseline, CA.SignCSR, Attest and Renew through a TLS control plane")
	identityDuration = flag.Duration("identity-duration", 2*time.Second, "how long each identity measurement runs")
	identityClients  = flag.Int("identity-clients", 2, "concurrent signers (agents, each on its own connection) per identity measurement")
)

// runIdentity prints the identity table; it returns a process exit code.
func runIdentity(ctx context.Context) int {
	if !*identitySection {
		return 0
	}
	rs, err := bench.MeasureIdentity(ctx, bench.IdentityConfig{Duration: *identityDuration, Clients: *identityClients, Log: os.Stderr})
	if len(rs) > 0 {
		fmt.Printf("\nidentity: SVIDs signed per second, %d concurrent signers, %v each\n\n", *identityClients, *identityDuration)
		bench.WriteIdentityTable(os.Stdout, rs)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "embassy-bench: identity: %v\n", err)
		return 1
	}
	return 0
}
