package cli

import (
	"fmt"
	"io"
	"strings"
)

// diffContext is how many unchanged lines surround each change.
const diffContext = 3

// op is one line of an edit script: ' ' kept, '-' removed, '+' added.
type op struct {
	kind byte
	line string
}

// WriteDiff writes a unified-style line diff of a (labelled fromName) to
// b (labelled toName), and reports whether they differ.
func WriteDiff(w io.Writer, fromName, toName, a, b string) (bool, error) {
	ops := editScript(splitLines(a), splitLines(b))
	changed := false
	for _, o := range ops {
		if o.kind != ' ' {
			changed = true
			break
		}
	}
	if !changed {
		return false, nil
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", fromName, toName)
	for _, h := range hunks(ops) {
		fmt.Fprintf(&sb, "@@ -%d,%d +%d,%d @@\n", h.aStart, h.aLen, h.bStart, h.bLen)
		for _, o := range ops[h.from:h.to] {
			fmt.Fprintf(&sb, "%c%s\n", o.kind, o.line)
		}
	}
	_, err := io.WriteString(w, sb.String())
	return true, err
}

// splitLines splits text into lines without their newlines.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// editScript computes a shortest edit script by longest common
// subsequence. Resources are small, so the quadratic table is cheap.
func editScript(a, b []string) []op {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	ops := make([]op, 0, n+m)
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			ops = append(ops, op{' ', a[i]})
			i, j = i+1, j+1
		case lcs[i+1][j] >= lcs[i][j+1]:
			ops = append(ops, op{'-', a[i]})
			i++
		default:
			ops = append(ops, op{'+', b[j]})
			j++
		}
	}
	for ; i < n; i++ {
		ops = append(ops, op{'-', a[i]})
	}
	for ; j < m; j++ {
		ops = append(ops, op{'+', b[j]})
	}
	return ops
}

// hunk is a run of ops[from:to] with its line ranges in a and b (1-based).
type hunk struct {
	from, to     int
	aStart, aLen int
	bStart, bLen int
}

// hunks groups changes with diffContext lines around each, merging
// changes whose context would overlap.
func hunks(ops []op) []hunk {
	var out []hunk
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		from := max(0, i-diffContext)
		to := i
		// Extend while the next change is within two contexts' reach.
		for to < len(ops) {
			if ops[to].kind != ' ' {
				to++
				continue
			}
			next := to
			for next < len(ops) && ops[next].kind == ' ' && next-to < 2*diffContext {
				next++
			}
			if next < len(ops) && ops[next].kind != ' ' {
				to = next
				continue
			}
			to = min(len(ops), to+diffContext)
			break
		}
		out = append(out, span(ops, from, to))
		i = to
	}
	return out
}

// span computes a hunk's line ranges by counting the ops before and in it.
func span(ops []op, from, to int) hunk {
	h := hunk{from: from, to: to, aStart: 1, bStart: 1}
	for _, o := range ops[:from] {
		if o.kind != '+' {
			h.aStart++
		}
		if o.kind != '-' {
			h.bStart++
		}
	}
	for _, o := range ops[from:to] {
		if o.kind != '+' {
			h.aLen++
		}
		if o.kind != '-' {
			h.bLen++
		}
	}
	// Unified diffs number an empty range by the line before it.
	if h.aLen == 0 {
		h.aStart--
	}
	if h.bLen == 0 {
		h.bStart--
	}
	return h
}
