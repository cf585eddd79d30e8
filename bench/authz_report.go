package bench

import (
	"fmt"
	"io"
	"runtime"
	"text/tabwriter"
	"time"
)

// WriteAuthzTable prints the authorization table: each authorizer's calls,
// latencies and throughput, with its throughput and p50 as multiples of
// the OPA server's measured in the same run, then how RBAC would decide
// the same policy, then notes on decisions and on the machine.
func WriteAuthzTable(w io.Writer, r *AuthzReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "authz path\tcalls\tp50\tp99\tcalls/s\tvs OPA server\tp50 vs OPA")
	opaRan := r.OPASkipped == ""
	row := func(a AuthzRow, ratio, p50 string) {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.0f\t%s\t%s\n", a.Name, a.Calls, latency(a.P50), latency(a.P99), a.PerSecond(), ratio, p50)
	}
	if opaRan {
		ratio, p50 := "-", "-"
		if r.OPA.PerSecond() > 0 {
			ratio = fmt.Sprintf("%.2f", r.Embassy.PerSecond()/r.OPA.PerSecond())
		}
		if r.OPA.P50 > 0 {
			p50 = fmt.Sprintf("%.2f", float64(r.Embassy.P50)/float64(r.OPA.P50))
		}
		row(r.Embassy, ratio, p50)
		row(r.OPA, "1.00", "1.00")
	} else {
		row(r.Embassy, "-", "-")
		// The last cell of a line sets no column width, so the reason
		// does not stretch the table.
		fmt.Fprintf(tw, "%s\t-\tskipped: %s\n", authzOPAName, r.OPASkipped)
	}
	fmt.Fprintf(tw, "%s\t-\t%s\n", authzRBACName, rbacCell(r))
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(w, "requests: %d fixed CheckRequests, %d allowed; denied ones carry expired, badly signed, wrong-issuer, malformed, missing or unaccepted-role tokens, or paths outside /api/\n",
		r.Requests, r.Allowed)
	if opaRan {
		fmt.Fprintf(w, "decisions: embassy and OPA disagree on %d of %d requests; calls deciding other than their request's reference: embassy %d of %d, OPA %d of %d\n",
			r.Disagreements, r.Requests, r.Embassy.Mismatches, r.Embassy.Calls, r.OPA.Mismatches, r.OPA.Calls)
		opa := "OPA"
		if r.OPAVersion != "" {
			opa += " " + r.OPAVersion
		}
		fmt.Fprintf(w, "same policy.rego and data.json, same input documents (policy/extauthz.BuildInput); embassy builds the input inside Check and logs each decision (JSON, discarded) as the agent does; %s gets it pre-encoded and logs errors only\n",
			opa)
	} else {
		fmt.Fprintf(w, "decisions: calls deciding other than their request's reference: embassy %d of %d\n", r.Embassy.Mismatches, r.Embassy.Calls)
		fmt.Fprintf(w, "OPA comparison skipped: %s\n", r.OPASkipped)
	}
	if r.RBAC != nil && !r.RBAC.Compiled {
		fmt.Fprintf(w, "rbac: this policy verifies a JWT, so it stays on ext_authz: %s\n", r.RBAC.Reason)
	}
	fmt.Fprintf(w, "machine: %d CPUs (GOMAXPROCS %d) shared by the clients, the servers and anything else running; load average %s before, %s after\n",
		r.CPUs, runtime.GOMAXPROCS(0), r.LoadBefore, r.LoadAfter)
	return nil
}

// rbacCell says how RBAC decides the policy: with no Check call at all,
// and, when this policy does not compile, that it applies to those that do
// (the notes below the table say why this one does not).
func rbacCell(r *AuthzReport) string {
	const noCall = "no Check call: decided inside Envoy/gRPC, no extra hop"
	if r.RBAC == nil || r.RBAC.Compiled {
		return noCall
	}
	return noCall + " (for policies that compile; this one does not, see rbac: below)"
}

// latency prints microseconds below a millisecond, else milliseconds.
func latency(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
