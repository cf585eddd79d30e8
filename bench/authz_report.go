package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"embassy.dev/embassy/policy/extauthz"
)

// authzRBACName names the RBAC row of the table.
const authzRBACName = "RBAC (compiled, in the proxy)"

// The targets the table checks, as multiples of the peer's throughput
// and as embassy's p99 at the fewest clients.
const (
	targetNoCache = 1.5
	targetCache   = 5.0
	targetP99     = time.Millisecond
)

// WriteAuthzTable prints the authorization table: per scenario, both
// sides' calls, latencies, throughput and server CPU per call, with
// embassy's throughput as a multiple of the peer's, then the cache's hit
// ratio, whether the targets were met, the memory and swap costs, how
// RBAC would decide, and the machine.
func WriteAuthzTable(w io.Writer, r *AuthzReport) error {
	peer := r.PeerName
	if r.PeerSkipped != "" {
		peer = "none, skipped: " + r.PeerSkipped
	}
	fmt.Fprintf(w, "side by side, %d rounds alternating which side goes first; clients: gRPC-Go with Envoy's fixed HTTP/2 windows; embassy: its Check server in a child process, gRPC on TCP loopback, decision log as the agent's with --log-json (every denial, %.0f%% of allows); peer: %s\n\n", r.Rounds, 100*extauthz.DefaultDecisionLogSample, peer)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tclients\tside\tcalls\tp50\tp99\tcalls/s\tserver CPU/call\tvs peer")
	for _, sc := range r.Scenarios {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", sc.Name, sc.Clients, "embassy", sideCells(sc.Embassy, ratioCell(sc)))
		if r.PeerSkipped == "" {
			fmt.Fprintf(tw, "\t\t%s\t%s\n", "peer", sideCells(sc.Peer, "1.00"))
		}
	}
	fmt.Fprintf(tw, "%s\t-\t-\t%s\n", authzRBACName, rbacCell(r))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "requests: JWT scenarios: %d fixed CheckRequests, %d allowed (expired, badly signed, wrong-issuer, malformed, missing and unaccepted-role tokens, paths outside /api/); callers scenarios: %d requests, each another caller's SPIFFE ID and path, half allowed\n",
		r.Requests, r.Allowed, callerCount)
	for _, sc := range r.Scenarios {
		writeScenarioNotes(w, r, sc)
	}
	writeTargets(w, r)
	f := r.Footprint
	fmt.Fprintf(w, "memory: heap per loaded policy revision %s (JWT and path), %s (callers, %d grants); per cached decision %s\n",
		bytesCell(f.JWTPolicyHeap), bytesCell(f.CallersPolicyHeap), callerCount, bytesCell(f.CacheEntryHeap))
	fmt.Fprintf(w, "revision swaps under load (callers, cache on, in-process server): %d swaps, one every %v, each Load %s on average, %s at most; calls/s %.0f without swaps, %.0f with; p99 %s and %s\n",
		f.Swaps, swapEvery, latency(f.SwapMean), latency(f.SwapMax), f.Baseline.PerSecond(), f.Swapping.PerSecond(), latency(f.Baseline.P99), latency(f.Swapping.P99))
	if r.RBAC != nil && !r.RBAC.Compiled {
		fmt.Fprintf(w, "rbac: the JWT policy verifies a token, so it stays on ext_authz: %s\n", r.RBAC.Reason)
	}
	fmt.Fprintf(w, "machine: %d CPUs, shared with anything else running; load average %s before, %s after\n",
		r.CPUs, r.LoadBefore, r.LoadAfter)
	fmt.Fprintf(w, "cpus: %s\n", r.Pinning)
	return nil
}

func sideCells(s AuthzSide, ratio string) string {
	cpu := "-"
	if c := s.CPUPerCall(); c >= 0 {
		cpu = fmt.Sprintf("%dµs", c.Microseconds())
	}
	return fmt.Sprintf("%d\t%s\t%s\t%.0f\t%s\t%s", s.Calls, latency(s.P50), latency(s.P99), s.PerSecond(), cpu, ratio)
}

// cpuRatio is the peer's server CPU per call over embassy's, the share of
// a ratio the clients do not limit, or nothing when either is unknown.
func cpuRatio(sc AuthzScenario) string {
	ours, theirs := sc.Embassy.CPUPerCall(), sc.Peer.CPUPerCall()
	if ours <= 0 || theirs <= 0 {
		return ""
	}
	return fmt.Sprintf(" (server CPU per call: %.2f× less)", float64(theirs)/float64(ours))
}

func ratioCell(sc AuthzScenario) string {
	if sc.Peer.PerSecond() <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", sc.Embassy.PerSecond()/sc.Peer.PerSecond())
}

// writeScenarioNotes says, per scenario, whether decisions agreed and
// what the cache did.
func writeScenarioNotes(w io.Writer, r *AuthzReport, sc AuthzScenario) {
	var notes []string
	if r.PeerSkipped == "" {
		notes = append(notes, fmt.Sprintf("the sides disagree on %d requests; calls deciding other than their request's reference: embassy %d, peer %d",
			sc.Disagreements, sc.Embassy.Mismatches, sc.Peer.Mismatches))
	} else {
		notes = append(notes, fmt.Sprintf("calls deciding other than their request's reference: embassy %d", sc.Embassy.Mismatches))
	}
	if c := sc.Cache; c != nil {
		lookups := c.Hits + c.Misses + c.Uncacheable
		ratio := 0.0
		if lookups > 0 {
			ratio = float64(c.Hits) / float64(lookups)
		}
		notes = append(notes, fmt.Sprintf("cache hit ratio %.2f%% (%d hits, %d misses, %d uncacheable), keyed on %s",
			100*ratio, c.Hits, c.Misses, c.Uncacheable, strings.Join(c.Fields, ", ")))
	}
	fmt.Fprintf(w, "%s, %d clients: %s\n", sc.Name, sc.Clients, strings.Join(notes, "; "))
}

// writeTargets says, for each target, what was measured and whether it
// was met; without the plugin as the peer the ratios are not the ones the
// targets name.
func writeTargets(w io.Writer, r *AuthzReport) {
	if r.PeerSkipped != "" {
		fmt.Fprintln(w, "targets: not checked, no peer ran")
		return
	}
	var parts []string
	for i, sc := range r.Scenarios {
		target := targetNoCache
		if sc.Cache != nil {
			target = targetCache
		} else if !strings.HasPrefix(sc.Name, "JWT") {
			continue
		}
		ratio := 0.0
		if sc.Peer.PerSecond() > 0 {
			ratio = sc.Embassy.PerSecond() / sc.Peer.PerSecond()
		}
		parts = append(parts, fmt.Sprintf("%s at %d clients ≥ %.1f× the peer: %.2f× %s%s", sc.Name, sc.Clients, target, ratio, met(ratio >= target), cpuRatio(sc)))
		if i == 0 {
			parts = append(parts, fmt.Sprintf("p99 ≤ %v at %d clients: %s %s", targetP99, sc.Clients, latency(sc.Embassy.P99), met(sc.Embassy.P99 <= targetP99)))
		}
	}
	if !strings.HasPrefix(r.PeerName, "opa-envoy-plugin") {
		parts = append(parts, "the targets name the opa-envoy-plugin, which did not run (--authz-peer)")
	}
	fmt.Fprintf(w, "targets: %s\n", strings.Join(parts, "; "))
}

func met(ok bool) string {
	if ok {
		return "(met)"
	}
	return "(NOT met)"
}

func bytesCell(n int64) string {
	if n >= 10*1024 {
		return fmt.Sprintf("%.0f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%d B", n)
}

// rbacCell says how RBAC decides a policy: with no Check call at all,
// for the policies that compile to it (the notes say whether the JWT
// policy does).
func rbacCell(r *AuthzReport) string {
	const noCall = "no Check call: decided inside Envoy/gRPC, no extra hop"
	if r.RBAC == nil || r.RBAC.Compiled {
		return noCall
	}
	return noCall + " (for policies that compile; the JWT one does not, see rbac: below)"
}

// latency prints microseconds below a millisecond, else milliseconds.
func latency(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
