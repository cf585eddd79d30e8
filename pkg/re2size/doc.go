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
// Bound is not a port of RE2 but a model of it that errs upwards. It
// parses with Go's regexp/syntax (itself a port of RE2's parser), lays the
// tree out as RE2's compiler would (graph.go, coalesce.go; classes in
// class.go), and bounds what RE2's flattening makes of that (flatten.go).
// Where Go's parser merges alternatives that RE2's keeps apart, it adds
// what they could cost (merge.go). Classes of many non-ASCII ranges are
// counted without the UTF-8 suffixes RE2 shares, so their bound is loose
// (\p{Greek}+ is 122 for RE2's 67).
//
// The differential test (build tag re2, against Debian's libre2-dev)
// shows on 100,000 generated regexes, a corpus and every regex in the
// examples and golden inputs that Bound is never below RE2's size, and
// within 5 of it on regexes as operators write them.
package re2size
