package envoyrules

import (
	"fmt"
	"regexp"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/proto"
)

// headerFormatRule: a header value Envoy adds is a substitution format
// string, where "%" starts a command and "%%" is a literal "%". A "%" that
// starts no command makes the whole route configuration (or rate limit
// filter) fail to load.
var headerFormatRule = Rule{
	ID:         "header.format-string",
	Source:     "source/common/formatter/substitution_formatter.cc",
	EnvoyError: "Incorrect configuration: {}. Couldn't find valid command at position {}",
	message:    headerFormat,
}

func headerFormat(m proto.Message) []finding {
	h, ok := m.(*core.HeaderValueOption)
	if !ok {
		return nil
	}
	var out []finding
	for _, v := range []struct{ field, value string }{
		{".header.value", h.GetHeader().GetValue()},
		{".header.raw_value", string(h.GetHeader().GetRawValue())},
	} {
		if pos, bad := FormatError(v.value); bad {
			out = append(out, finding{v.field, fmt.Sprintf("Incorrect configuration: %s. Couldn't find valid command at position %d", v.value, pos)})
		}
	}
	return out
}

// formatCommand is Envoy's commandWithArgsRegex: %COMMAND(ARG):LENGTH%.
var formatCommand = regexp.MustCompile(`^%((?:[A-Z]|[0-9]|_)+)(?:\((.*?)\))?(?::([0-9]+))?%`)

// FormatError scans a value the way Envoy's SubstitutionFormatParser does
// and reports the byte position of the first "%" that is neither the "%%"
// escape nor the start of a command. A well-formed command is not an
// error here: Envoy would expand it, which is the translator's to avoid by
// escaping.
func FormatError(format string) (pos int, bad bool) {
	for pos = 0; pos < len(format); {
		if format[pos] != '%' {
			pos++
			continue
		}
		if pos+1 < len(format) && format[pos+1] == '%' {
			pos += 2
			continue
		}
		loc := formatCommand.FindStringIndex(format[pos:])
		if loc == nil {
			return pos, true
		}
		pos += loc[1]
	}
	return 0, false
}
