package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
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
}

func newTally() *tally { return &tally{ByBackend: map[string]int{}} }

// add records one call's outcome.
func (t *tally) add(backend string, err error) {
	t.Total++
	if err != nil {
		t.Errors++
		if t.FirstError == "" {
			t.FirstError = err.Error()
		}
		return
	}
	t.ByBackend[backend]++
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
	fmt.Fprintf(&sb, "%d calls, %d errors\n", t.Total, t.Errors)
	for _, n := range t.backends() {
		fmt.Fprintf(&sb, "  %-12s %6d  %5.1f%%\n", n, t.ByBackend[n], t.percent(n))
	}
	if t.FirstError != "" {
		fmt.Fprintf(&sb, "first error: %s\n", t.FirstError)
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

// writeLine prints the watch-mode line of one interval for people.
func (t *tally) writeLine(w io.Writer) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "t=%s total=%d errors=%d", time.Duration(t.ElapsedMS)*time.Millisecond, t.Total, t.Errors)
	for _, n := range t.backends() {
		fmt.Fprintf(&sb, " %s=%d(%.1f%%)", n, t.ByBackend[n], t.percent(n))
	}
	if t.FirstError != "" {
		fmt.Fprintf(&sb, " first-error=%q", t.FirstError)
	}
	sb.WriteByte('\n')
	_, err := io.WriteString(w, sb.String())
	return err
}
