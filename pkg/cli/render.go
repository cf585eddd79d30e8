package cli

import (
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// Ellipsis marks a cell cut short to fit the terminal.
const Ellipsis = "…"

// minColumnWidth is the narrowest a column is cut to, so a truncated cell
// keeps enough of its start to be recognised ("echo-v1-7…").
const minColumnWidth = 10

// TableOptions say where a table is going: how wide the terminal is,
// whether it wants colour, and the zone times are shown in.
type TableOptions struct {
	// Width is the terminal's width in columns. A table wider than that
	// has its widest columns cut, cells ending in "…", until it fits or
	// every column is down to its minimum. 0 means no limit (a pipe or a
	// file, where scripts want every byte).
	Width int
	// Colour paints states (green healthy, red failed, yellow waiting);
	// for terminals only.
	Colour bool
	// Location is the zone times are printed in (default time.Local).
	Location *time.Location
}

// ForTerminal returns the options for writing to w: its width and whether
// it wants colour, both off unless w is a terminal.
func ForTerminal(w io.Writer) TableOptions {
	tty := isTerminal(w)
	return TableOptions{Width: terminalWidth(w, tty, os.Getenv), Colour: wantsColour(tty, os.Getenv)}
}

// location returns the zone of the options, time.Local by default.
func (o TableOptions) location() *time.Location {
	if o.Location == nil {
		return time.Local
	}
	return o.Location
}

// isTerminal reports whether w is a character device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// wantsColour applies https://no-color.org and TERM=dumb to a terminal;
// anything else gets plain text.
func wantsColour(tty bool, getenv func(string) string) bool {
	return tty && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
}

// terminalWidth is $COLUMNS when set, else the terminal's own width, else
// 0 (no limit) for anything that is not a terminal.
func terminalWidth(w io.Writer, tty bool, getenv func(string) string) int {
	if n, err := strconv.Atoi(getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if !tty {
		return 0
	}
	ws, err := unix.IoctlGetWinsize(int(w.(*os.File).Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 {
		return 0
	}
	return int(ws.Col)
}

// table is rows of cells under headers (none for a key/value list),
// written with gap spaces between columns. paint, when set, gives the ANSI colour of a cell ("" for none).
type table struct {
	headers []string
	rows    [][]string
	gap     int
	paint   func(col int, cell string) string
}

// write renders the table in o's width and colour. Widths are counted in
// runes and colour is added after padding, so escapes never skew columns.
func (t *table) write(w io.Writer, o TableOptions) error {
	widths := t.fit(o.Width)
	var sb strings.Builder
	line := func(cells []string, header bool) {
		for i, c := range cells {
			c = truncate(c, widths[i])
			pad := widths[i] - utf8.RuneCountInString(c)
			if !header && o.Colour && t.paint != nil {
				if code := t.paint(i, cells[i]); code != "" {
					c = code + c + ansiReset
				}
			}
			sb.WriteString(c)
			if i < len(cells)-1 {
				sb.WriteString(strings.Repeat(" ", pad+t.gap))
			}
		}
		sb.WriteString("\n")
	}
	if len(t.headers) > 0 {
		line(t.headers, true)
	}
	for _, r := range t.rows {
		line(r, false)
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

// fit returns each column's width: its widest cell, then, while the table
// is wider than limit, the widest column loses one rune at a time down to
// the larger of its header and minColumnWidth.
func (t *table) fit(limit int) []int {
	n := len(t.headers)
	for _, r := range t.rows {
		n = max(n, len(r))
	}
	widths := make([]int, n)
	floor := make([]int, n)
	for i, h := range t.headers {
		widths[i] = utf8.RuneCountInString(h)
	}
	for i := range floor {
		floor[i] = max(widths[i], minColumnWidth)
	}
	for _, r := range t.rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for i := range floor {
		floor[i] = min(floor[i], widths[i])
	}
	if limit <= 0 {
		return widths
	}
	total := func() int {
		s := t.gap * (n - 1)
		for _, w := range widths {
			s += w
		}
		return s
	}
	for total() > limit {
		widest := -1
		for i, w := range widths {
			if w > floor[i] && (widest < 0 || w > widths[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			break
		}
		widths[widest]--
	}
	return widths
}

// truncate cuts s to width runes, the last one an ellipsis.
func truncate(s string, width int) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	if width <= 0 {
		return ""
	}
	r := []rune(s)
	return string(r[:width-1]) + Ellipsis
}
