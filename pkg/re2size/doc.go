// Package re2size bounds the size of the program RE2 compiles a regular
// expression to, the number Envoy checks before it accepts a regex.
//
// Envoy compiles every safe_regex with RE2 and refuses one whose
// RE2::ProgramSize() exceeds the runtime value re2.max_program_size.error_level,
// 100 unless the bootstrap raises it (source/common/common/regex.cc:
// "regex '...' RE2 program size of N > max program size of 100 set for the
// error level threshold"). One such regex in a route fails the whole
// route configuration. Go's regexp accepts these regexes, and its own
// program size is no measure of RE2's: RE2 compiles characters to UTF-8
// byte ranges and flattens its program, which Go does neither of.
//
// Bound is not a port of RE2's compiler. It walks the simplified syntax
// tree (Go's regexp/syntax parser and simplifier are ports of RE2's) and
// counts, per node, at least as many instructions as RE2's compiler and
// flattening can emit for it. The differential test against the real
// RE2 library (libre2, build tag re2) proves on a corpus and fuzzed
// regexes that Bound is never below RE2's ProgramSize, and measures how
// far above it is.
package re2size
