package extauthz

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// loggedHeaders is the headers field of a decision line, encoded once by
// hand: handing the logger a fresh map made it allocate the map, then
// reflect over it and sort its keys again for every line, which cost more
// CPU than a cached decision. It renders exactly as that map did, as a
// JSON object with sorted keys and, in the text format, as fmt prints a
// map[string]string.
type loggedHeaders struct {
	names  []string // sorted
	values []string // values[i] is names[i]'s value, or Redacted
}

// headersForLog takes the request's headers, redacting the value of
// every header not named in --authz-log-header-values.
func (l *DecisionLog) headersForLog(hs map[string]string) loggedHeaders {
	names := make([]string, 0, len(hs))
	for k := range hs {
		names = append(names, k)
	}
	slices.Sort(names)
	values := make([]string, len(names))
	for i, k := range names {
		values[i] = Redacted
		if l.logHeaders[k] {
			values[i] = hs[k]
		}
	}
	return loggedHeaders{names: names, values: values}
}

// MarshalJSON encodes the headers as one JSON object, keys sorted.
func (h loggedHeaders) MarshalJSON() ([]byte, error) {
	n := 2
	for i := range h.names {
		n += len(h.names[i]) + len(h.values[i]) + 6
	}
	return h.appendJSON(make([]byte, 0, n)), nil
}

// appendJSON appends the headers as one JSON object, keys sorted.
func (h loggedHeaders) appendJSON(b []byte) []byte {
	b = append(b, '{')
	for i := range h.names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, h.names[i])
		b = append(b, ':')
		b = appendJSONString(b, h.values[i])
	}
	return append(b, '}')
}

// String renders the headers as fmt renders a map[string]string, which is
// what the text format showed before.
func (h loggedHeaders) String() string {
	var b strings.Builder
	b.WriteString("map[")
	for i := range h.names {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h.names[i])
		b.WriteByte(':')
		b.WriteString(h.values[i])
	}
	b.WriteByte(']')
	return b.String()
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string the way encoding/json
// writes it, byte for byte: control characters (\b, \f, \n, \r and \t
// by their short escapes), quotes, backslashes, <, > and & escaped,
// invalid UTF-8 replaced by U+FFFD, and U+2028 and U+2029 escaped so the
// line is also safe JavaScript.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
