package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc/status"

	"embassy.dev/embassy/internal/echo"
)

// tally counts the outcome of a batch of calls. Its JSON form is what
// --json prints and what tests parse.
type tally struct {
	Total      int            `json:"total"`
	Errors     int            `json:"errors"`
	ByBackend  map[string]int `json:"byBackend"`
	FirstError string         `json:"firstError,omitempty"`
	// ElapsedMS is set in watch mode: the end of the interval, measured
	// from the first measured call.
	ElapsedMS int64 `json:"elapsedMs,omitempty"`
	// ByCode counts calls by gRPC status, by canonical name (OK,
	// UNAVAILABLE, DEADLINE_EXCEEDED, ...).
	ByCode map[string]int `json:"byCode"`
	// P50MS, P99MS and MaxMS are call latencies in milliseconds, failed
	// calls included (nearest rank); set by summarize.
	P50MS float64 `json:"p50Ms"`
	P99MS float64 `json:"p99Ms"`
	MaxMS float64 `json:"maxMs"`

	latencies []time.Duration
}

func newTally() *tally { return &tally{ByBackend: map[string]int{}, ByCode: map[string]int{}} }

// add records one call's outcome and how long it took.
func (t *tally) add(backend string, err error, took time.Duration) {
	t.Total++
	t.ByCode[echo.CodeName(status.Code(err))]++
	t.latencies = append(t.latencies, took)
	if err != nil {
		t.Errors++
		if t.FirstError == "" {
			t.FirstError = err.Error()
		}
		return
	}
	t.ByBackend[backend]++
}

// summarize computes the latency percentiles of the calls added so far.
func (t *tally) summarize() {
	if len(t.latencies) == 0 {
		return
	}
	l := slices.Clone(t.latencies)
	slices.Sort(l)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(l)))) - 1
		return ms(l[max(i, 0)])
	}
	t.P50MS, t.P99MS, t.MaxMS = rank(0.50), rank(0.99), ms(l[len(l)-1])
}

// ms is d in milliseconds, to a tenth.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*10) / 10
}

// codes returns the status names seen, in a stable order.
func (t *tally) codes() []string {
	names := make([]string, 0, len(t.ByCode))
	for n := range t.ByCode {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// backends returns the backend names in a stable order.
func (t *tally) backends() []string {
	names := make([]string, 0, len(t.ByBackend))
	for n := range t.ByBackend {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// percent is backend's share of the successful calls.
func (t *tally) percent(backend string) float64 {
	ok := t.Total - t.Errors
	if ok == 0 {
		return 0
	}
	return 100 * float64(t.ByBackend[backend]) / float64(ok)
}

// writeJSON prints the tally as one JSON line.
func (t *tally) writeJSON(w io.Writer) error {
	t.summarize()
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// writeReport prints the burst-mode summary for people.
func (t *tally) writeReport(w io.Writer) error {
	var sb strings.Builder
	t.summarize()
	fmt.Fprintf(&sb, "%d calls, %d errors\n", t.Total, t.Errors)
	for _, n := range t.backends() {
		fmt.Fprintf(&sb, "  %-12s %6d  %5.1f%%\n", n, t.ByBackend[n], t.percent(n))
	}
	if t.Errors > 0 {
		sb.WriteString("by status:")
		for _, c := range t.codes() {
			fmt.Fprintf(&sb, " %s=%d", c, t.ByCode[c])
		}
		sb.WriteByte('\n')
	}
	fmt.Fprintf(&sb, "latency: p50 %.1fms  p99 %.1fms  max %.1fms\n", t.P50MS, t.P99MS, t.MaxMS)
	if t.FirstError != "" {
		fmt.Fprintf(&sb, "first error: %s\n", t.FirstError)
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

// writeLine prints the watch-mode line of one interval for people.
func (t *tally) writeLine(w io.Writer) error {
	var sb strings.Builder
	t.summarize()
	fmt.Fprintf(&sb, "t=%s total=%d errors=%d", time.Duration(t.ElapsedMS)*time.Millisecond, t.Total, t.Errors)
	for _, n := range t.backends() {
		fmt.Fprintf(&sb, " %s=%d(%.1f%%)", n, t.ByBackend[n], t.percent(n))
	}
	for _, c := range t.codes() {
		if c != "OK" {
			fmt.Fprintf(&sb, " %s=%d", c, t.ByCode[c])
		}
	}
	fmt.Fprintf(&sb, " p50=%.1fms p99=%.1fms", t.P50MS, t.P99MS)
	if t.FirstError != "" {
		fmt.Fprintf(&sb, " first-error=%q", t.FirstError)
	}
	sb.WriteByte('\n')
	_, err := io.WriteString(w, sb.String())
	return err
}
