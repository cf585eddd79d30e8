package re2size

import (
	"regexp/syntax"
	"slices"
	"unicode"
	"unicode/utf8"
)

// classCost bounds a class node's instructions: first bytes and
// continuation bytes.
func classCost(re *syntax.Regexp) (first, rest int) {
	switch re.Op {
	case syntax.OpAnyCharNotNL:
		return class([]rune{0, '\n' - 1, '\n' + 1, unicode.MaxRune})
	case syntax.OpAnyChar:
		return class([]rune{0, unicode.MaxRune})
	}
	return class(re.Rune)
}

// class bounds the byte-range instructions of a character class given as
// sorted, non-overlapping [lo, hi] pairs, as the first bytes of its
// encodings and the continuation bytes after them. RE2 compiles a class
// to an alternation of UTF-8 byte sequences (compile.cc AddRuneRange): an
// ASCII range is one instruction; a range of longer encodings is split
// where its UTF-8 lengths and leading bytes change, each piece taking one
// instruction per byte. RE2 shares common prefixes and suffixes between
// pieces, so counting each piece in full is an upper bound. A class
// holding all of 80-10FFFF costs a fixed six (nonASCIIFirst,
// nonASCIIRest) for that part.
func class(ranges []rune) (first, rest int) {
	full := coversNonASCII(ranges)
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		if lo < utf8.RuneSelf {
			first++
			lo = utf8.RuneSelf
		}
		if lo > hi || full {
			continue
		}
		f, r := utf8Pieces(lo, hi)
		first, rest = first+f, rest+r
	}
	if full {
		first, rest = first+nonASCIIFirst, rest+nonASCIIRest
	}
	return first, rest
}

// foldOrbit returns, for a rune whose case folding has other members, the
// class of all of them; nil otherwise.
func foldOrbit(r rune) []rune {
	if unicode.SimpleFold(r) == r {
		return nil
	}
	orbit := []rune{r}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		orbit = append(orbit, f)
	}
	slices.Sort(orbit)
	ranges := make([]rune, 0, 2*len(orbit))
	for _, f := range orbit {
		ranges = append(ranges, f, f)
	}
	return ranges
}

// runeLen is a rune's UTF-8 length, 3 for a surrogate.
func runeLen(r rune) int {
	if n := utf8.RuneLen(r); n > 0 {
		return n
	}
	return 3
}

// coversNonASCII reports whether the class holds every rune from 0x80 on.
func coversNonASCII(ranges []rune) bool {
	for i := 0; i+1 < len(ranges); i += 2 {
		if ranges[i] <= utf8.RuneSelf && ranges[i+1] >= unicode.MaxRune {
			return true
		}
	}
	return false
}

// encodingEnds are the last runes of each UTF-8 length and, within it, of
// the surrogate gap that UTF-8 cannot encode.
var encodingEnds = []rune{0x7F, 0x7FF, 0xFFFF, unicode.MaxRune}

// utf8Pieces counts the instructions of the byte sequences encoding
// [lo, hi], first bytes and continuation bytes: split by encoded length, then recursively wherever a prefix
// of the encoding is not shared by a full block of continuation bytes,
// as RE2 (and Go's utf8 range splitting) does.
func utf8Pieces(lo, hi rune) (first, rest int) {
	for _, end := range encodingEnds {
		if lo <= end && hi > end {
			return add(utf8Pieces(lo, end))(utf8Pieces(end+1, hi))
		}
	}
	size := runeLen(lo)
	// Split so that lo and hi differ only in whole trailing continuation
	// bytes (each 6 bits) that run from 80 to BF.
	for i := 1; i < size; i++ {
		m := rune(1)<<(6*i) - 1
		if lo&^m != hi&^m {
			if lo&m != 0 {
				return add(utf8Pieces(lo, lo|m))(utf8Pieces((lo|m)+1, hi))
			}
			if hi&m != m {
				return add(utf8Pieces(lo, (hi&^m)-1))(utf8Pieces(hi&^m, hi))
			}
		}
	}
	return 1, size - 1
}

// add sums two (first, rest) pairs.
func add(f1, r1 int) func(f2, r2 int) (int, int) {
	return func(f2, r2 int) (int, int) { return f1 + f2, r1 + r2 }
}
