package re2size

import "regexp/syntax"

// mergeAllowance bounds what Go's parser saved over RE2's by merging
// alternatives. Both factor alternations, but not alike: both merge
// "a|b|[x-z]" into one class, yet where two neighbouring alternatives are
// the same ("[a-z]|[a-z]|[0-9a-f]", or "[a-zA-Z0-9_]|\w") RE2 factors
// them first and keeps an alternation, while Go still makes one class;
// and Go folds ".|\PN" into one cheap class where RE2 keeps \PN's
// thousand instructions. So when Go's tree has fewer alternatives than
// the source, every alternation that is not a clean merge (cleanMerge) is
// counted again as RE2 could compile it, each alternative on its own, as
// many times as the repetitions around it expand it.
func mergeAllowance(pattern string, re *syntax.Regexp) int {
	if sourceBars(pattern) <= treeBars(re) {
		return 0
	}
	n := 0
	for _, g := range alternations(pattern) {
		if cleanMerge(pattern, g) {
			continue
		}
		n += altNops * (len(g) - 1)
		for _, alt := range g {
			// Merges inside an alternative are counted as groups of their
			// own by this loop, so each alternative is bounded as it
			// stands: recursing would cost time exponential in the
			// nesting of groups.
			b := boundWithoutMerges(re)
			if sub, err := syntax.Parse(alt, syntax.Perl); err == nil {
				b = boundWithoutMerges(sub)
			} // else not a regex alone (a flag group's tail, say): as
			// costly as the whole pattern.
			n += b
		}
	}
	return n * maxExpansion(re)
}

// cleanMerge reports whether both parsers make the same class of an
// alternation: every alternative is one character or class, and no two
// neighbours are the same. Flags set anywhere in the pattern change what
// an alternative means alone, so then nothing is taken as clean.
func cleanMerge(pattern string, alts []string) bool {
	if setsFlags(pattern) {
		return false
	}
	prev := ""
	for i, a := range alts {
		re, err := syntax.Parse(a, syntax.Perl)
		if err != nil {
			return false
		}
		switch {
		case re.Op == syntax.OpLiteral && len(re.Rune) == 1, re.Op == syntax.OpCharClass,
			re.Op == syntax.OpAnyChar, re.Op == syntax.OpAnyCharNotNL:
		default:
			return false
		}
		if i > 0 && re.String() == prev {
			return false
		}
		prev = re.String()
	}
	return true
}

// alternations splits a pattern into its alternations: for the whole
// pattern and each group, the source of its alternatives, when it has
// more than one. Escapes, classes and \Q...\E quotes are skipped whole.
func alternations(p string) [][]string {
	type group struct {
		start int // first byte of the current alternative
		alts  []string
	}
	var out [][]string
	stack := []group{{}}
	closeAlt := func(end int) {
		g := &stack[len(stack)-1]
		g.alts = append(g.alts, p[g.start:end])
	}
	for i := 0; i < len(p); i = next(p, i) {
		switch p[i] {
		case '(':
			body := i + 1
			if body < len(p) && p[body] == '?' {
				// Skip "?:", "?i:", "?P<name>" and the like up to the body.
				body++
				for body < len(p) && groupPrefixByte(p[body]) {
					body++
				}
				if body < len(p) && (p[body] == ':' || p[body] == '>') {
					body++
				}
			}
			stack = append(stack, group{start: body})
			i = body - 1
		case '|':
			closeAlt(i)
			stack[len(stack)-1].start = i + 1
		case ')':
			if len(stack) == 1 {
				continue
			}
			closeAlt(i)
			if g := stack[len(stack)-1]; len(g.alts) > 1 {
				out = append(out, g.alts)
			}
			stack = stack[:len(stack)-1]
		}
	}
	// Groups left open (the parser refuses those) end with the pattern.
	for ; len(stack) > 0; stack = stack[:len(stack)-1] {
		closeAlt(len(p))
		if g := stack[len(stack)-1]; len(g.alts) > 1 {
			out = append(out, g.alts)
		}
	}
	return out
}

// next is the index after the token at i: an escape (with \Q...\E), a
// class, or one byte.
func next(p string, i int) int {
	switch p[i] {
	case '\\':
		if i+1 < len(p) && p[i+1] == 'Q' {
			if end := indexFrom(p, `\E`, i+2); end >= 0 {
				return end + 2
			}
			return len(p)
		}
		return i + 2
	case '[':
		return classEnd(p, i) + 1
	}
	return i + 1
}

// sourceBars counts the alternation bars of a pattern: '|' outside
// character classes, escapes and \Q...\E quotes.
func sourceBars(p string) int {
	n := 0
	for i := 0; i < len(p); i = next(p, i) {
		if p[i] == '|' {
			n++
		}
	}
	return n
}

// classEnd returns the index of the ']' closing the class opened at i, or
// the end of the pattern. A ']' right after '[' or '[^' is a member, and
// [:name:] is one item.
func classEnd(p string, i int) int {
	i++
	if i < len(p) && p[i] == '^' {
		i++
	}
	if i < len(p) && p[i] == ']' {
		i++
	}
	for ; i < len(p); i++ {
		switch {
		case p[i] == '\\':
			i++
		case p[i] == '[' && i+1 < len(p) && p[i+1] == ':':
			if end := indexFrom(p, ":]", i+2); end >= 0 {
				i = end + 1
			}
		case p[i] == ']':
			return i
		}
	}
	return len(p)
}

func indexFrom(s, sub string, from int) int {
	for i := from; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// treeBars counts the alternatives Go's tree kept, as bars.
func treeBars(re *syntax.Regexp) int {
	n := 0
	if re.Op == syntax.OpAlternate {
		n += len(re.Sub) - 1
	}
	for _, s := range re.Sub {
		n += treeBars(s)
	}
	return n
}

// maxExpansion is the most copies counted repetition makes of any node:
// the largest product of repeat counts along a path of the tree.
func maxExpansion(re *syntax.Regexp) int {
	n := 1
	for _, s := range re.Sub {
		n = max(n, maxExpansion(s))
	}
	if re.Op == syntax.OpRepeat {
		n *= max(re.Max, re.Min, 1)
	}
	return n
}

// setsFlags reports whether a pattern has a flag group such as (?i) or
// (?s:...); (?: and (?P<name> set none.
func setsFlags(p string) bool {
	for i := indexFrom(p, "(?", 0); i >= 0; i = indexFrom(p, "(?", i+2) {
		if i+2 < len(p) && p[i+2] != ':' && p[i+2] != 'P' && p[i+2] != '<' {
			return true
		}
	}
	return false
}

// groupPrefixByte reports whether b may appear in a group's prefix
// between "(?" and its ':' or '>': flags, '-', and a capture's name.
func groupPrefixByte(b byte) bool {
	return b == '-' || b == '<' || b == '_' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
}
