package envoyrules

import (
	"fmt"

	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"

	"embassy.dev/embassy/pkg/re2size"
)

// regexProgramSizeRule: Envoy refuses a regex whose compiled RE2 program
// is larger than the error-level threshold, wherever it appears (route
// matches, header matchers, rewrites). The size is re2size's bound, which
// is never below RE2's own measure (proved against libre2 by make
// test-re2), so what passes here also loads in Envoy; Embassy's bootstraps
// leave the threshold at Envoy's default, re2size.EnvoyLimit.
var regexProgramSizeRule = Rule{
	ID:         "regex.program-size",
	Source:     "source/common/common/regex.cc",
	EnvoyError: "regex '{}' RE2 program size of {} > max program size of 100 set for the error level threshold. Increase configured max program size if necessary.",
	message:    regexProgramSize,
}

func regexProgramSize(m proto.Message) []finding {
	r, ok := m.(*matcher.RegexMatcher)
	if !ok {
		return nil
	}
	size, err := re2size.Bound(r.GetRegex())
	switch {
	case err != nil:
		return []finding{{".regex", err.Error()}}
	case size > re2size.EnvoyLimit:
		return []finding{{".regex", fmt.Sprintf("regex '%s' RE2 program size of %d > max program size of %d set for the error level threshold. Increase configured max program size if necessary.", r.GetRegex(), size, re2size.EnvoyLimit)}}
	}
	return nil
}
