package envoyrules

import (
	"fmt"

	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
)

// maxProgramSize is Envoy's default for the runtime key
// re2.max_program_size.error_level, which Embassy's bootstraps leave
// unset.
const maxProgramSize = 100

// ProgramSize measures a pattern as RE2's ProgramSize does. Go's regexp
// compiles to a different program whose size is no guide to RE2's, so the
// rule below runs only once this is set to a faithful port of RE2's
// measure; until then it reports nothing.
var ProgramSize func(pattern string) (int, error)

// regexProgramSizeRule: Envoy refuses a regex whose compiled RE2 program
// is larger than the error-level threshold, wherever it appears (route
// matches, header matchers, rewrites).
var regexProgramSizeRule = Rule{
	ID:         "regex.program-size",
	Source:     "source/common/common/regex.cc",
	EnvoyError: "regex '{}' RE2 program size of {} > max program size of 100 set for the error level threshold. Increase configured max program size if necessary.",
	message:    regexProgramSize,
}

func regexProgramSize(m proto.Message) []finding {
	r, ok := m.(*matcher.RegexMatcher)
	if !ok || ProgramSize == nil {
		return nil
	}
	size, err := ProgramSize(r.GetRegex())
	switch {
	case err != nil:
		return []finding{{".regex", err.Error()}}
	case size > maxProgramSize:
		return []finding{{".regex", fmt.Sprintf("regex '%s' RE2 program size of %d > max program size of %d set for the error level threshold. Increase configured max program size if necessary.", r.GetRegex(), size, maxProgramSize)}}
	}
	return nil
}
