package bench

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
)

// ScopedCalls is how many services each service calls in the scoped
// comparison's call graph.
const ScopedCalls = 5

// RunScoped measures config scoping: the same mesh, every service calling
// the ScopedCalls services after it (as egress lists), served by embassy
// with the Mesh's configScoping unset and then set to explicit, for every
// mode and run. It reports what connecting cost (config bytes and heap
// per proxy); no change is measured, since a scoped proxy does not hold
// the services the changes touch. It fails, saying why, when this control
// plane has no config scoping or when scoping left the proxies' config as
// large as without it.
func RunScoped(ctx context.Context, cfg Config) (unscoped, scoped []PhaseResult, err error) {
	cfg.Servers, cfg.SkipChanges = []Server{Embassy}, true
	cfg.Mesh.Calls = ScopedCalls
	for _, s := range []struct {
		scoping string
		out     *[]PhaseResult
	}{{"none", &unscoped}, {"explicit", &scoped}} {
		c := cfg
		c.Mesh.Scoping = s.scoping
		res, err := Run(ctx, c)
		*s.out = append(*s.out, res...)
		if err != nil {
			return unscoped, scoped, fmt.Errorf("configScoping %s: %w", s.scoping, err)
		}
	}
	for _, m := range cfg.Modes {
		u, sc := modeMedian(unscoped, m), modeMedian(scoped, m)
		if sc >= u/2 {
			return unscoped, scoped, fmt.Errorf("%s: with configScoping explicit each proxy was sent %s, without it %s: scoping is not in effect", m, size(sc), size(u))
		}
	}
	return unscoped, scoped, nil
}

// modeMedian is the median config bytes per proxy of the phases of mode m.
func modeMedian(results []PhaseResult, m Mode) float64 {
	var vs []float64
	for _, p := range results {
		if p.Mode == m && p.Connect > 0 {
			vs = append(vs, p.ConnectBytesPerProxy())
		}
	}
	return median(vs)
}

// WriteScoped prints the scoped comparison: per mode, the medians of
// config bytes and heap per proxy without and with scoping.
func WriteScoped(w io.Writer, unscoped, scoped []PhaseResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "mode\tconfig/proxy unscoped\tscoped\tscoped/unscoped\theap/proxy unscoped\tscoped\tconfigured unscoped\tscoped\t")
	heap := figures[0]
	configured := figures[1]
	for _, pt := range points(unscoped) {
		u, _ := medians(unscoped, pt)
		s, _ := medians(scoped, pt)
		ub, sb := modeMedian(unscoped, pt.mode), modeMedian(scoped, pt.mode)
		ratio := "-"
		if sb > 0 {
			ratio = fmt.Sprintf("1/%.0f", ub/sb)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", pt.mode, size(ub), size(sb), ratio,
			heap.format(u[0]), heap.format(s[0]), configured.format(u[1]), configured.format(s[1]))
	}
	return tw.Flush()
}
