package re2size

import (
	"strings"
	"testing"
	"time"
)

// measured holds RE2's ProgramSize for regexes an operator would write,
// as libre2 (Debian 20220601) reported it; the differential test
// (differential_re2_test.go, build tag re2) measures these and many more
// against the library itself. Here they pin Bound without the library.
var measured = map[string]int{
	"[0-9a-f]{64}": 132, // the example: Envoy refuses it
	"[0-9a-f]{32}": 68,
	"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}": 72,
	"^/api/v[0-9]+/.*$":             15,
	"/users/[^/]+/orders/[^/]+":     37,
	"^/users/[0-9]+$":               6,
	".*":                            12,
	"a":                             5,
	`\w+@\w+\.com`:                  17,
	"(?i)bearer .+":                 20,
	"^(GET|POST|PUT|DELETE)$":       19,
	"^[A-Za-z0-9+/]+={0,2}$":        10,
	"^Bearer [A-Za-z0-9._~+/-]+=*$": 12,
	"a{2,5}":                        12,
	"a{0,1000}":                     2004,
	"(a*|b)*c":                      15,
	"[^\\x00-\\x7f]":                10,
}

// TestBoundCoversMeasuredSizes: Bound is never below RE2's size and, on
// these, within a few instructions of it, so the limit refuses what Envoy
// refuses and little else.
func TestBoundCoversMeasuredSizes(t *testing.T) {
	for p, real := range measured {
		b, err := Bound(p)
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		if b < real || b > real+5 {
			t.Errorf("%q: bound %d, RE2 measured %d; want from %d to %d", p, b, real, real, real+5)
		}
		if (b > EnvoyLimit) != (real > EnvoyLimit) {
			t.Errorf("%q: bound %d and RE2's %d disagree about Envoy's limit %d", p, b, real, EnvoyLimit)
		}
	}
}

func TestBoundRefusesWhatGoCannotParse(t *testing.T) {
	if _, err := Bound("(a"); err == nil || !strings.Contains(err.Error(), "missing closing )") {
		t.Errorf("Bound(%q) error = %v, want the parse error", "(a", err)
	}
}

// TestBoundIsBoundedForHugeRepeats: nested counted repetition expands to
// a graph too large to build; Bound stops and reports a size far over the
// limit instead of spending memory.
func TestBoundIsBoundedForHugeRepeats(t *testing.T) {
	b, err := Bound("((a{1000}){1000}){1000}")
	if err == nil && b <= EnvoyLimit {
		t.Errorf("bound %d for a billion-fold repeat", b)
	}
}

// TestAlternations splits a pattern's groups into their alternatives,
// skipping escapes, classes and quotes.
func TestAlternations(t *testing.T) {
	cases := map[string]string{
		"a|b":               "[a b]",
		`(?:x|[|]|\|)z|(y)`: "[x [|] \\|] [(?:x|[|]|\\|)z (y)]",
		`\Q|\E|a`:           "[\\Q|\\E a]",
		"[]|]|(?P<n>a|bc)":  "[a bc] [[]|] (?P<n>a|bc)]",
		"[[:alpha:]|]|x":    "[[[:alpha:]|] x]",
		"plain":             "",
	}
	for p, want := range cases {
		var got []string
		for _, g := range alternations(p) {
			got = append(got, "["+strings.Join(g, " ")+"]")
		}
		if strings.Join(got, " ") != want {
			t.Errorf("alternations(%q) = %v, want %s", p, got, want)
		}
	}
}

// FuzzBound: any input either fails to parse or gets a bound of at least
// the two instructions every program has, and the splitter never loses
// or invents a bar.
func FuzzBound(f *testing.F) {
	for p := range measured {
		f.Add(p)
	}
	for _, s := range []string{"(?i)k|K", `\Q|`, "[", "(|(|))", "[]a]|b", "(?P<x>a|b)|c", "\\", "(?:(?:$)?){4,}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		bars := 0
		for _, g := range alternations(p) {
			bars += len(g) - 1
		}
		if bars != sourceBars(p) {
			t.Errorf("%q: alternations hold %d bars, the source %d", p, bars, sourceBars(p))
		}
		b, err := Bound(p)
		if err == nil && b < 2 {
			t.Errorf("%q: bound %d below the fail and match instructions", p, b)
		}
	})
}

// TestBoundIsFastOnNestedMerges: alternations Go merges, nested deep,
// cost time linear in the nesting, not exponential (apply runs Bound on
// operators' input).
func TestBoundIsFastOnNestedMerges(t *testing.T) {
	p := "a"
	for range 40 {
		p = "(?:" + p + "|a)"
	}
	done := make(chan int, 1)
	go func() {
		n, _ := Bound(p)
		done <- n
	}()
	select {
	case n := <-done:
		if n < 2 {
			t.Errorf("bound %d", n)
		}
	case <-time.After(time.Minute):
		t.Fatal("Bound did not return within a minute on 40 nested alternations")
	}
}
