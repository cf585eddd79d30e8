package bench

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// percentiles returns the 50th and 99th percentiles (nearest rank) and the
// maximum of ds.
func percentiles(ds []time.Duration) (p50, p99, mx time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		k := int(p*float64(len(s))+0.999999) - 1
		return s[min(max(k, 0), len(s)-1)]
	}
	return rank(0.50), rank(0.99), s[len(s)-1]
}

// WriteTable prints every phase's measurements, one row per change.
func WriteTable(w io.Writer, results []PhaseResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "run\tserver\tmode\tproxies\tservices\tchange\tacked\tp50\tp99\tmax\tbytes/push(total)\tbytes/proxy\tresponses\theap/proxy")
	for _, ph := range results {
		for _, r := range ph.Rows {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n",
				ph.Run, r.Server, r.Mode, r.Proxies, r.Services, r.Change, r.Acked, r.Proxies, ms(r.P50), ms(r.P99), ms(r.Max),
				size(float64(r.Bytes)), size(r.BytesPerProxy()), r.Responses, size(ph.HeapPerProxy()))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, ph := range results {
		fmt.Fprintf(w, "run %d, %s %s: %d proxies fully configured in %s (%s sent, %s per proxy); heap %s before, %s after; mesh seeded in %s; CPU: server %s, proxies %s\n",
			ph.Run, ph.Server, ph.Mode, ph.Proxies, ms(ph.Connect), size(float64(ph.ConnectBytes)), size(ph.ConnectBytesPerProxy()),
			size(float64(ph.HeapBefore)), size(float64(ph.HeapAfter)), ms(ph.Seed), ph.ServerCPU.Round(time.Millisecond), ph.FleetCPU.Round(time.Millisecond))
	}
	return nil
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

// size renders a byte count with a binary unit.
func size(b float64) string {
	switch {
	case b >= 1<<30 || b <= -(1<<30):
		return fmt.Sprintf("%.2f GiB", b/(1<<30))
	case b >= 1<<20 || b <= -(1<<20):
		return fmt.Sprintf("%.2f MiB", b/(1<<20))
	case b >= 1<<10 || b <= -(1<<10):
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}
