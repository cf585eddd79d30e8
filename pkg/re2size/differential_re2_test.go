//go:build re2

package re2size

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/re2size/libre2"
)

// TestBoundAgainstRE2 is the differential test: on every regex of the
// corpus, the examples and the golden inputs, and on generated ones, Bound
// is never below the real RE2's ProgramSize. It reports how far above it
// is. Run it with `go test -tags re2 ./pkg/re2size` where libre2-dev is
// installed (.ci/run installs it).
func TestBoundAgainstRE2(t *testing.T) {
	var patterns []string
	for _, seed := range []uint64{1, 42, 99, 555, 2024} {
		patterns = append(patterns, generated(rand.New(rand.NewPCG(seed, 2)), 20000)...)
	}
	var s stats
	for _, p := range patterns {
		s.add(t, p)
	}
	if s.measured < 50000 {
		t.Fatalf("only %d generated regexes measured", s.measured)
	}
	t.Logf("generated: %s", s)
}

// TestBoundIsTightOnRealRegexes: on the corpus and the project's own
// regexes, written as operators write them, the bound stays within a few
// instructions of RE2's size, so a regex under the limit is not refused.
func TestBoundIsTightOnRealRegexes(t *testing.T) {
	const slack = 5
	var s stats
	for _, p := range append(corpus(t), projectRegexes(t)...) {
		p, loose := strings.CutPrefix(p, "~ ")
		real, bound, ok := s.add(t, p)
		if ok && !loose && real <= EnvoyLimit && bound-real > slack {
			t.Errorf("%q: bound %d is more than %d above RE2's %d", p, bound, slack, real)
		}
	}
	t.Logf("corpus and project: %s", s)
}

// stats collects what the differential tests measure.
type stats struct {
	measured, withinMargin, refusedWrongly, worstExcess int
}

// add measures one regex with RE2 and Bound, failing the test when the
// bound is below RE2's size; ok is false when either refuses the regex.
func (s *stats) add(t *testing.T, p string) (real, bound int, ok bool) {
	t.Helper()
	real, err := libre2.ProgramSize(p)
	if errors.Is(err, libre2.ErrInvalid) {
		return 0, 0, false // not RE2 syntax (Go accepts a few more forms)
	}
	bound, err = Bound(p)
	if err != nil {
		return 0, 0, false // Go refuses it; apply refuses it as not a regex
	}
	s.measured++
	if bound < real {
		t.Errorf("%q: bound %d is below RE2's program size %d", p, bound, real)
	}
	if bound <= real+margin {
		s.withinMargin++
	}
	if real <= EnvoyLimit && bound > EnvoyLimit {
		s.refusedWrongly++
	}
	if real <= EnvoyLimit {
		s.worstExcess = max(s.worstExcess, bound-real)
	}
	return real, bound, true
}

func (s stats) String() string {
	return fmt.Sprintf("%d regexes; bound within %d of RE2's size for %d; of those RE2 sizes at most %d, %d would be refused and the bound exceeds RE2's size by at most %d",
		s.measured, margin, s.withinMargin, EnvoyLimit, s.refusedWrongly, s.worstExcess)
}

// corpus reads testdata/corpus.txt, one regex a line.
func corpus(t *testing.T) []string {
	f, err := os.Open(filepath.Join("testdata", "corpus.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// projectRegexes collects the regex and pattern values of every YAML file
// under examples/ and the translator's golden inputs.
func projectRegexes(t *testing.T) []string {
	field := regexp.MustCompile(`(?:regex|pattern): *'([^']*)'|(?:regex|pattern): *"([^"]*)"`)
	var out []string
	for _, dir := range []string{"../../examples", "../../xds/translate/testdata/in"} {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
				return err
			}
			b, err := os.ReadFile(path)
			for _, m := range field.FindAllStringSubmatch(string(b), -1) {
				out = append(out, m[1]+m[2])
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(out) == 0 {
		t.Fatal("no regex found in examples and golden inputs")
	}
	return out
}

// atoms are the pieces generated regexes are made of: literals in one to
// four UTF-8 bytes, classes (negated, folded, Perl, Unicode), anchors and
// boundaries.
var atoms = []string{
	"a", "b", "k", "/", "-", `\.`, "é", "ж", "€", "𝄞", "0",
	"[a-z]", "[0-9a-f]", "[^/]", "[^a]", "[a-zA-Z0-9_]", "[α-ω]", "[\u0100-\u2FFF]", "[\u0800-\U0010FFFF]", "[^\u00e9]",
	`\d`, `\w`, `\s`, `\D`, `\W`, `\pL`, `\p{Greek}`, `\PN`, ".", "(?s:.)", "(?i)k", "(?i)[a-f]", "(?i)é",
	"^", "$", `\b`, `\B`, `\A`, `\z`, "(?m:^)", "(?m:$)", "",
}

// generated makes n random regexes of atoms joined by concatenation,
// alternation, groups and repetition, including counted repeats at their
// edges ({0}, {1}, {n,}, {n,m}).
func generated(r *rand.Rand, n int) []string {
	out := make([]string, 0, n)
	for range n {
		out = append(out, gen(r, 3))
	}
	return out
}

func gen(r *rand.Rand, depth int) string {
	if depth == 0 || r.IntN(3) == 0 {
		return atoms[r.IntN(len(atoms))]
	}
	switch r.IntN(8) {
	case 0, 1:
		return gen(r, depth-1) + gen(r, depth-1)
	case 2:
		return gen(r, depth-1) + "|" + gen(r, depth-1)
	case 3:
		return "(" + gen(r, depth-1) + ")"
	case 4:
		return "(?:" + gen(r, depth-1) + ")" + []string{"*", "+", "?", "*?", "+?"}[r.IntN(5)]
	case 5:
		lo := r.IntN(5)
		return "(?:" + gen(r, depth-1) + "){" + itoa(lo) + []string{"}", ",}", "," + itoa(lo+r.IntN(4)) + "}"}[r.IntN(3)]
	case 6:
		return gen(r, depth-1) + gen(r, depth-1) + gen(r, depth-1)
	}
	return "[" + []string{"a-c", "x", "0-9", "^z", "\u00e0-\u00ff", "a-z\u0400-\u04ff"}[r.IntN(6)] + "]" + gen(r, depth-1)
}

func itoa(i int) string { return string(rune('0' + i)) }

// FuzzBoundAgainstRE2 extends the differential test to any input.
func FuzzBoundAgainstRE2(f *testing.F) {
	for _, s := range []string{"[0-9a-f]{64}", "^/api/v[0-9]+/.*$", "(?i)héllo|wörld", `\pL{2,5}`, "(a*)*b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		real, err := libre2.ProgramSize(p)
		if err != nil {
			return
		}
		bound, err := Bound(p)
		if err != nil {
			return
		}
		if bound < real {
			t.Errorf("%q: bound %d is below RE2's program size %d", p, bound, real)
		}
	})
}
