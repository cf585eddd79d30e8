package bench

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// figure is one quantity read from each phase, summarized as a median.
type figure struct {
	name string
	// short heads the figure's column in the sweep table.
	short string
	// duration says the value is nanoseconds; otherwise bytes.
	duration bool
	get      func(PhaseResult) (float64, bool)
}

// figures are what the summary reports, in order.
var figures = []figure{
	{"heap per connected proxy", "heap/proxy", false, func(p PhaseResult) (float64, bool) { return p.HeapPerProxy(), p.HeapAfter > 0 }},
	{"all proxies configured", "configured", true, func(p PhaseResult) (float64, bool) { return float64(p.Connect), p.Connect > 0 }},
	{"config bytes per proxy", "config/proxy", false, func(p PhaseResult) (float64, bool) { return p.ConnectBytesPerProxy(), p.Connect > 0 }},
	rowFigure("endpoint change → all ACKed, p50", "ep p50", "endpoints", func(r Row) float64 { return float64(r.P50) }, true),
	rowFigure("endpoint change → all ACKed, p99", "ep p99", "endpoints", func(r Row) float64 { return float64(r.P99) }, true),
	rowFigure("bytes per proxy, endpoint change", "ep bytes/proxy", "endpoints", Row.BytesPerProxy, false),
	rowFigure("route change → all ACKed, p50", "rt p50", "route", func(r Row) float64 { return float64(r.P50) }, true),
	rowFigure("route change → all ACKed, p99", "rt p99", "route", func(r Row) float64 { return float64(r.P99) }, true),
	rowFigure("bytes per proxy, route change", "rt bytes/proxy", "route", Row.BytesPerProxy, false),
}

// rowFigure reads a figure from the phase's row of one change, when every
// proxy saw that change.
func rowFigure(name, short, change string, get func(Row) float64, duration bool) figure {
	return figure{name, short, duration, func(p PhaseResult) (float64, bool) {
		for _, r := range p.Rows {
			if r.Change == change && r.Observed == r.Proxies {
				return get(r), true
			}
		}
		return 0, false
	}}
}

func (f figure) format(v float64) string {
	if f.duration {
		return ms(time.Duration(v))
	}
	return size(v)
}

// point identifies the phases whose figures are summarized together.
type point struct {
	proxies, services int
	server            Server
	mode              Mode
}

func pointOf(p PhaseResult) point { return point{p.Proxies, p.Services, p.Server, p.Mode} }

// medians returns, for every figure, the median over the phases at pt,
// and how many phases had it.
func medians(results []PhaseResult, pt point) (out []float64, n []int) {
	return mediansOf(results, pt, figures)
}

// mediansOf is medians of the figures figs.
func mediansOf(results []PhaseResult, pt point, figs []figure) (out []float64, n []int) {
	out, n = make([]float64, len(figs)), make([]int, len(figs))
	for k, f := range figs {
		var vs []float64
		for _, p := range results {
			if pointOf(p) != pt {
				continue
			}
			if v, ok := f.get(p); ok {
				vs = append(vs, v)
			}
		}
		out[k], n[k] = median(vs), len(vs)
	}
	return out, n
}

// median of vs: the middle value, or the mean of the two middle ones; 0
// for none.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// points lists the distinct points of results in the order first seen.
func points(results []PhaseResult) []point {
	var out []point
	for _, p := range results {
		if pt := pointOf(p); !slices.Contains(out, pt) {
			out = append(out, pt)
		}
	}
	return out
}

// WriteSummary prints, per mode and figure, the median over the runs of
// embassy, of the baseline, and their ratio: the table `make bench` ends
// with.
func WriteSummary(w io.Writer, results []PhaseResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tmode\tembassy\tbaseline\tembassy/baseline\truns\t")
	writeComparison(tw, results, Embassy, Baseline, figures, false)
	return tw.Flush()
}

// writeComparison writes, for each point of server a and each of figs,
// the medians of a and of b at that point, their ratio (b over a when
// bOverA, else a over b) and how many runs gave each.
func writeComparison(tw io.Writer, results []PhaseResult, a, b Server, figs []figure, bOverA bool) {
	for _, pt := range points(results) {
		if pt.server != a {
			continue
		}
		av, an := mediansOf(results, pt, figs)
		bpt := pt
		bpt.server = b
		bv, bn := mediansOf(results, bpt, figs)
		for k, f := range figs {
			if an[k] == 0 && bn[k] == 0 {
				continue
			}
			as, bs, ratio := "-", "-", "-"
			if an[k] > 0 {
				as = f.format(av[k])
			}
			if bn[k] > 0 {
				bs = f.format(bv[k])
			}
			num, den := av[k], bv[k]
			if bOverA {
				num, den = den, num
			}
			if an[k] > 0 && bn[k] > 0 && den != 0 {
				ratio = fmt.Sprintf("%.3f", num/den)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\t\n", f.name, pt.mode, as, bs, ratio, an[k], bn[k])
		}
	}
}

// WriteSweep prints one row per point (proxies, services, server, mode)
// with the median of every figure.
func WriteSweep(w io.Writer, results []PhaseResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "proxies\tservices\tserver\tmode\t")
	for _, f := range figures {
		fmt.Fprintf(tw, "%s\t", f.short)
	}
	fmt.Fprintln(tw, "runs\t")
	for _, pt := range points(results) {
		vs, n := medians(results, pt)
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t", pt.proxies, pt.services, pt.server, pt.mode)
		for k, f := range figures {
			if n[k] == 0 {
				fmt.Fprint(tw, "-\t")
				continue
			}
			fmt.Fprintf(tw, "%s\t", f.format(vs[k]))
		}
		fmt.Fprintf(tw, "%d\t\n", slices.Max(n))
	}
	return tw.Flush()
}
