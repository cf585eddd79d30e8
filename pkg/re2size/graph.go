package re2size

import (
	"regexp/syntax"
	"unicode/utf8"
)

// maxNodes bounds the graph built for one regex, so that a huge counted
// repetition costs bounded work: such a regex is far over any limit.
const maxNodes = 1 << 16

// node is one instruction of the program RE2 compiles, as far as its
// flattened size is concerned. An alt or nop is an epsilon transition
// (kInstAlt, kInstNop), gone once flattened. Anything else is weight
// instructions that consume input or mark a position (kInstByteRange,
// kInstCapture, kInstEmptyWidth, kInstMatch) followed by out: for a
// character class, weight is its first bytes only, the continuation bytes
// being counted apart (they are roots of their own).
type node struct {
	alt, nop bool
	weight   int
	out      *node
	out1     *node
}

// graph compiles a syntax tree to nodes the way RE2's compiler
// (re2/compile.cc) lays out its instructions.
type graph struct {
	nodes int
	// extra counts instructions outside the graph: continuation bytes.
	extra int
}

func (g *graph) new(n node) *node {
	g.nodes++
	return &n
}

func (g *graph) full() bool { return g.nodes > maxNodes }

// compile returns the first node of re, continuing at next.
func (g *graph) compile(re *syntax.Regexp, next *node) *node {
	if g.full() {
		return next
	}
	switch re.Op {
	case syntax.OpNoMatch:
		return g.new(node{}) // kInstFail: no weight, no way on
	case syntax.OpEmptyMatch:
		return g.new(node{nop: true, out: next})
	case syntax.OpLiteral:
		return g.literal(re, next)
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		first, rest := classCost(re)
		g.extra += rest
		return g.new(node{weight: first, out: next})
	case syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return g.new(node{weight: 1, out: next})
	case syntax.OpCapture:
		return g.new(node{weight: 1, out: g.compile(re.Sub[0], g.new(node{weight: 1, out: next}))})
	case syntax.OpConcat:
		for i := len(re.Sub) - 1; i >= 0; i-- {
			next = g.compile(re.Sub[i], next)
		}
		return next
	case syntax.OpAlternate:
		begin := g.compile(re.Sub[len(re.Sub)-1], next)
		for i := len(re.Sub) - 2; i >= 0; i-- {
			begin = g.new(node{alt: true, out: g.compile(re.Sub[i], next), out1: begin})
		}
		return begin
	case syntax.OpQuest, syntax.OpPlus, syntax.OpStar:
		return g.repetition(re, next)
	case syntax.OpRepeat:
		if !consumes(re.Sub[0]) {
			// RE2 clamps repeats of empty-width assertions and squashes
			// what is left, which can come out one or two Nops longer
			// than this expansion (the differential test found one).
			g.extra += altNops
		}
		return g.compile(expandRepeat(re), next)
	}
	// An operator this package does not know is counted as costly as the
	// limit, so it is refused rather than guessed.
	g.extra += EnvoyLimit + 1
	return next
}

// consumes reports whether a regex contains anything that reads input.
func consumes(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpLiteral, syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return true
	}
	for _, s := range re.Sub {
		if consumes(s) {
			return true
		}
	}
	return false
}

// repetition compiles x?, x+ and x*. As RE2's parser does
// (regexp.cc StarPlusOrQuest), a repetition of a repetition with the same
// greediness is squashed: x** is x*, and x*+, x+?, x?* and the like are x*.
func (g *graph) repetition(re *syntax.Regexp, next *node) *node {
	if s := re.Sub[0]; isRepetition(s.Op) && s.Flags&syntax.NonGreedy == re.Flags&syntax.NonGreedy {
		if s.Op == re.Op || s.Op == syntax.OpStar {
			return g.compile(s, next)
		}
		return g.compile(&syntax.Regexp{Op: syntax.OpStar, Flags: re.Flags, Sub: s.Sub}, next)
	}
	switch re.Op {
	case syntax.OpQuest:
		return g.new(node{alt: true, out: g.compile(re.Sub[0], next), out1: next})
	case syntax.OpPlus:
		loop := g.new(node{alt: true, out1: next})
		loop.out = g.compile(re.Sub[0], loop)
		return loop.out
	}
	// x*. RE2 compiles the star of a nullable regex as (x+)?, so that one
	// Alt does not upset the priorities of the loop. Flattened, such a
	// loop can cost one Nop more than the graph shows (the differential
	// test found (?:(?:a*?)?)*? at 11 where the graph gives 10), so one is
	// added.
	if nullable(re.Sub[0]) {
		g.extra++
		loop := g.new(node{alt: true, out1: next})
		loop.out = g.compile(re.Sub[0], loop)
		return g.new(node{alt: true, out: loop.out, out1: next})
	}
	loop := g.new(node{alt: true, out1: next})
	loop.out = g.compile(re.Sub[0], loop)
	return loop
}

func isRepetition(op syntax.Op) bool {
	return op == syntax.OpStar || op == syntax.OpPlus || op == syntax.OpQuest
}

// literal compiles a literal's runes as UTF-8 bytes; a case-folded rune
// whose fold orbit has other members is a class, as in RE2's parser.
func (g *graph) literal(re *syntax.Regexp, next *node) *node {
	for i := len(re.Rune) - 1; i >= 0; i-- {
		r := re.Rune[i]
		orbit := foldOrbit(r)
		if re.Flags&syntax.FoldCase != 0 && len(orbit) == 4 && orbit[3] < utf8.RuneSelf {
			// An ASCII letter with only its other case: one byte range
			// with RE2's foldcase flag.
			next = g.new(node{weight: 1, out: next})
			continue
		}
		if re.Flags&syntax.FoldCase != 0 && orbit != nil {
			first, rest := class(orbit)
			g.extra += rest
			next = g.new(node{weight: first, out: next})
			continue
		}
		for range runeLen(r) {
			next = g.new(node{weight: 1, out: next})
		}
	}
	return next
}

// expandRepeat rewrites x{n,m} as RE2's simplifier does (simplify.cc
// SimplifyRepeat): x{0} is empty, x{0,} is x*, x{n,} is n-1 copies of x
// and x+, x{n,m} is n copies and m-n nested optional copies ((x(x)?)?).
func expandRepeat(re *syntax.Regexp) *syntax.Regexp {
	x := re.Sub[0]
	op := func(o syntax.Op, subs ...*syntax.Regexp) *syntax.Regexp {
		return &syntax.Regexp{Op: o, Flags: re.Flags, Sub: subs}
	}
	switch {
	case re.Max == 0:
		return op(syntax.OpEmptyMatch)
	case re.Max == -1 && re.Min == 0:
		return op(syntax.OpStar, x)
	case re.Max == -1:
		subs := make([]*syntax.Regexp, 0, re.Min)
		for range re.Min - 1 {
			subs = append(subs, x)
		}
		return op(syntax.OpConcat, append(subs, op(syntax.OpPlus, x))...)
	}
	subs := make([]*syntax.Regexp, 0, re.Min+1)
	for range re.Min {
		subs = append(subs, x)
	}
	var tail *syntax.Regexp
	for range re.Max - re.Min {
		if tail == nil {
			tail = op(syntax.OpQuest, x)
		} else {
			tail = op(syntax.OpQuest, op(syntax.OpConcat, x, tail))
		}
	}
	if tail != nil {
		subs = append(subs, tail)
	}
	return op(syntax.OpConcat, subs...)
}
