package re2size

import (
	"regexp/syntax"
	"slices"
)

// coalesceTree applies coalesce to every concatenation of a parsed tree,
// innermost first, as RE2 does before it expands counted repetition (so
// the copies x{4} makes are never coalesced with each other).
func coalesceTree(re *syntax.Regexp) *syntax.Regexp {
	if len(re.Sub) == 0 {
		return re
	}
	out := *re
	out.Sub = make([]*syntax.Regexp, len(re.Sub))
	for i, s := range re.Sub {
		out.Sub[i] = coalesceTree(s)
	}
	if out.Op == syntax.OpConcat {
		out.Sub = coalesce(out.Sub)
	}
	return &out
}

// coalesce rewrites a concatenation's pieces as RE2's CoalesceWalker
// (simplify.cc) does before simplifying: a repetition of one character,
// class or dot followed by a repetition of the same, or by the same
// character, class or dot, or by a literal starting with that character,
// becomes one counted repetition ("a*a" is "a{1,}", "a+aab" is "a{3,}b").
// This can grow a program as well as shrink it, so Bound must see it.
func coalesce(subs []*syntax.Regexp) []*syntax.Regexp {
	out := slices.Clone(subs)
	for i := 0; i+1 < len(out); i++ {
		r1, r2 := out[i], out[i+1]
		lo1, hi1, ok := repeatRange(r1)
		if !ok || !coalescible(r1.Sub[0]) {
			continue
		}
		x := r1.Sub[0]
		lo, hi, rest := 0, 0, (*syntax.Regexp)(nil)
		switch lo2, hi2, ok2 := repeatRange(r2); {
		case ok2 && r2.Sub[0].Equal(x) && r1.Flags&syntax.NonGreedy == r2.Flags&syntax.NonGreedy:
			lo, hi = lo2, hi2
		case r2.Equal(x):
			lo, hi = 1, 1
		case x.Op == syntax.OpLiteral && len(x.Rune) == 1 && r2.Op == syntax.OpLiteral && len(r2.Rune) > 1 &&
			r2.Rune[0] == x.Rune[0] && r2.Flags&syntax.FoldCase == x.Flags&syntax.FoldCase:
			n := 1
			for n < len(r2.Rune) && r2.Rune[n] == x.Rune[0] {
				n++
			}
			lo, hi = n, n
			if n < len(r2.Rune) {
				rest = &syntax.Regexp{Op: syntax.OpLiteral, Flags: r2.Flags, Rune: r2.Rune[n:]}
			}
		default:
			continue
		}
		merged := &syntax.Regexp{Op: syntax.OpRepeat, Flags: r1.Flags, Sub: []*syntax.Regexp{x}, Min: lo1 + lo, Max: -1}
		if hi1 != -1 && hi != -1 {
			merged.Max = hi1 + hi
		}
		if rest != nil {
			out[i], out[i+1] = merged, rest
		} else {
			out[i], out[i+1] = &syntax.Regexp{Op: syntax.OpEmptyMatch}, merged
		}
	}
	return out
}

// repeatRange gives the counts of x*, x+, x? and x{n,m} (-1: unbounded).
func repeatRange(re *syntax.Regexp) (lo, hi int, ok bool) {
	switch re.Op {
	case syntax.OpStar:
		return 0, -1, true
	case syntax.OpPlus:
		return 1, -1, true
	case syntax.OpQuest:
		return 0, 1, true
	case syntax.OpRepeat:
		return re.Min, re.Max, true
	}
	return 0, 0, false
}

// coalescible: RE2 coalesces repetitions of a single character (a
// literal of one rune), a class or a dot.
func coalescible(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune) == 1
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return true
	}
	return false
}
