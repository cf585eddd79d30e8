//go:build re2

#include <re2/re2.h>

// Envoy's CompiledGoogleReMatcher builds RE2(regex, RE2::Quiet): default
// options, errors not logged.
extern "C" int embassy_re2_program_size(const char* pattern, int len) {
  RE2 re(re2::StringPiece(pattern, len), RE2::Quiet);
  if (!re.ok()) return -1;
  return re.ProgramSize();
}
