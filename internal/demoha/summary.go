package demoha

import (
	"fmt"
	"text/tabwriter"
	"time"
)

// summary prints the run's table: one row per kill, then the calls.
func (d *demo) summary(res *Result) {
	d.step("Summary")
	w := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "    kill\treplica\twhy\twrites resumed\tproxies reconnected\tchange converged\trestarted\tetcd leader\tcp leader\tcalls\tfailed")
	for i, k := range res.Kills {
		conv := "NOT CONVERGED"
		if k.Converged > 0 {
			conv = secs(k.Converged)
		}
		reconnected := "NOT RECONNECTED"
		if k.Reconnected > 0 {
			reconnected = secs(k.Reconnected)
		}
		restarted := "no"
		if k.Restarted {
			restarted = "at " + secs(k.RestartedAt)
		}
		fmt.Fprintf(w, "    %d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", i+1, k.Victim, k.Why, secs(k.WritesResumed), reconnected, conv, restarted, k.EtcdLeader, k.CPLeader, k.Calls, k.Failed)
	}
	w.Flush()
	fmt.Fprintln(d.out, "    (times from the kill; writes resumed: the change's apply acknowledged; proxies reconnected: every app and agent connected to a live replica; change converged: every proxy connected to a live replica, all SYNCED, the client's calls following the change)")
	fmt.Fprintf(d.out, "\n    calls: %d made, %d failed\n", res.Calls, res.Failed)
	fmt.Fprintf(d.out, "    demo took %s\n", secs(time.Since(d.began)))
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }
