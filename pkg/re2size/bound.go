package re2size

import (
	"fmt"
	"regexp/syntax"
)

// EnvoyLimit is the largest RE2 program size Envoy accepts by default: the
// runtime key re2.max_program_size.error_level (source/common/common/regex.cc)
// defaults to 100, and Embassy's bootstraps do not raise it.
const EnvoyLimit = 100

// altNops is what a kInstAlt may leave in a flattened program: none of
// itself, but a kInstNop for each of its two edges.
const altNops = 2

// nonASCIIFirst and nonASCIIRest are what RE2 compiles the range
// 80-10FFFF to, which [^x] and . contain: three first bytes and three
// continuation bytes (compile.cc Add_80_10ffff).
const nonASCIIFirst, nonASCIIRest = 3, 3

// Bound returns an upper bound of RE2's ProgramSize for pattern, parsed
// with RE2's default (Perl-like) syntax, or the parse error.
//
// It lays the parsed tree out as RE2's compiler would (graph.go) and
// bounds what flattening makes of it (flatten.go). It works on the tree
// without Go's Simplify, which removes more than RE2's simplifier does
// (Go turns (x*)* into x*, RE2 keeps both loops), and where Go's parser
// merged alternatives that RE2's may keep apart, the bound grows by what
// those could cost (mergeAllowance).
func Bound(pattern string) (int, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 0, fmt.Errorf("parse %q: %w", pattern, err)
	}
	return boundWithoutMerges(re) + mergeAllowance(pattern, re), nil
}

// boundWithoutMerges bounds the program of a parsed tree as it stands.
func boundWithoutMerges(re *syntax.Regexp) int {
	g := &graph{}
	match := g.new(node{weight: 1})
	rest, prefixed := withoutRequiredPrefix(re)
	var start *node
	if prefixed {
		// RE2 matches the prefix itself and compiles only the rest (the
		// ^ is counted as an instruction), which it may leave unanchored.
		start = g.new(node{weight: 1, out: g.compile(coalesceTree(rest), match)})
	} else {
		start = g.compile(coalesceTree(re), match)
	}
	entries := []*node{start}
	if prefixed || !anchoredStart(re) {
		// The unanchored ".*?" loop: an Alt into the regex and a [00-ff].
		su := g.new(node{alt: true, out: start})
		su.out1 = g.new(node{weight: 1, out: su})
		entries = append(entries, su)
	}
	if g.full() {
		return maxNodes
	}
	return flatSize(entries) + g.extra + margin
}

// margin covers what the graph does not model of RE2's compiler: over
// 200,000 generated regexes the differential test found the rest of the
// bound below RE2's size by one for two of them (an alternation of a
// counted repetition and a nested star, and a nested lazy star), and never
// by more.
const margin = 1

// anchoredStart reports whether a regex begins with \A or ^ (in one-line
// mode), which spares RE2 its unanchored prefix. Like RE2's IsAnchorStart
// (compile.cc) it looks through at most four concatenations and captures.
func anchoredStart(re *syntax.Regexp) bool {
	for depth := 0; depth < 4; depth++ {
		switch re.Op {
		case syntax.OpBeginText:
			return true
		case syntax.OpConcat, syntax.OpCapture:
			if len(re.Sub) == 0 {
				return false
			}
			re = re.Sub[0]
		default:
			return false
		}
	}
	return false
}

// nullable reports whether a simplified regex can match the empty string.
func nullable(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpStar, syntax.OpQuest,
		syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true
	case syntax.OpCapture, syntax.OpPlus:
		return nullable(re.Sub[0])
	case syntax.OpRepeat:
		return re.Min == 0 || nullable(re.Sub[0])
	case syntax.OpConcat:
		for _, s := range re.Sub {
			if !nullable(s) {
				return false
			}
		}
		return true
	case syntax.OpAlternate:
		for _, s := range re.Sub {
			if nullable(s) {
				return true
			}
		}
	}
	return false
}

// withoutRequiredPrefix mirrors RE2's Regexp::RequiredPrefix (regexp.cc):
// a concatenation of ^ anchors, a literal and the rest is compiled as the
// rest only. It returns the rest.
func withoutRequiredPrefix(re *syntax.Regexp) (*syntax.Regexp, bool) {
	if re.Op != syntax.OpConcat {
		return nil, false
	}
	i := 0
	for i < len(re.Sub) && re.Sub[i].Op == syntax.OpBeginText {
		i++
	}
	// A case-folded literal is a class to RE2's parser when a rune's fold
	// orbit leaves ASCII ((?i)k is [Kk\x{212A}]), which is no prefix.
	if i == 0 || i >= len(re.Sub) || re.Sub[i].Op != syntax.OpLiteral || re.Sub[i].Flags&syntax.FoldCase != 0 {
		return nil, false
	}
	return &syntax.Regexp{Op: syntax.OpConcat, Flags: re.Flags, Sub: re.Sub[i+1:]}, true
}
