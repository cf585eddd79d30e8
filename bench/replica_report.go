package bench

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// replicaFigures are what the replicas summary reports: the figures of
// every summary, then what only several processes have.
var replicaFigures = append(slices.Clone(figures),
	figure{"heap per connected proxy, largest of the processes", "proc heap/proxy", false, func(p PhaseResult) (float64, bool) {
		return largest(p, ProcessHeap.PerProxy), len(p.Processes) > 0
	}},
	figure{"live heap of a control plane, largest", "proc heap", false, func(p PhaseResult) (float64, bool) {
		return largest(p, func(h ProcessHeap) float64 { return float64(h.After) }), len(p.Processes) > 0
	}},
	figure{"live heap of the etcd member", "etcd heap", false, func(p PhaseResult) (float64, bool) {
		return float64(p.EtcdHeap), p.EtcdHeap > 0
	}},
	figure{"server CPU, every process", "server CPU", true, func(p PhaseResult) (float64, bool) {
		return float64(p.ServerCPU), p.ServerCPU > 0
	}},
)

// largest is the largest value of get over the phase's processes.
func largest(p PhaseResult, get func(ProcessHeap) float64) float64 {
	var out float64
	for k, h := range p.Processes {
		if v := get(h); k == 0 || v > out {
			out = v
		}
	}
	return out
}

// WriteReplicaSummary prints, per mode and figure, the median over the
// runs of one control plane (Single) and of the replicas sharing etcd,
// with their ratio; then each process's heap in each run.
func WriteReplicaSummary(w io.Writer, results []PhaseResult, replicas int) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "figure\tmode\tsingle\treplicas×%d\treplicas/single\truns\t\n", replicas)
	writeComparison(tw, results, Single, Replicas, replicaFigures, true)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nper process, live heap after the proxies connected (heap per proxy):")
	for _, ph := range results {
		line := fmt.Sprintf("run %d, %s %s:", ph.Run, ph.Server, ph.Mode)
		for k, h := range ph.Processes {
			line += fmt.Sprintf(" cp%d %s for %d proxies (%s/proxy);", k, size(float64(h.After)), h.Proxies, size(h.PerProxy()))
		}
		if ph.EtcdHeap > 0 {
			line += fmt.Sprintf(" etcd %s;", size(float64(ph.EtcdHeap)))
		}
		fmt.Fprintf(w, "%s CPU %s\n", line, ph.ServerCPU.Round(time.Millisecond))
	}
	return nil
}
