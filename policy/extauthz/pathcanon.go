package extauthz

import "math"

// canonicalizePath is googleurl's url::CanonicalizePath for a special
// (http) URL's path, as Envoy calls it (url_canon_path.cc, in the version
// whose table unescapes unreserved characters and fails on NUL, as
// Envoy's path_utility_test.cc expects). It returns false where that
// function reports failure, which Envoy answers with 400.
func canonicalizePath(p string) (string, bool) {
	if p == "" {
		return "/", true
	}
	c := canonicalizer{in: p}
	if !isURLSlash(p[0]) {
		c.out = append(c.out, '/')
	}
	c.partialPath()
	return string(c.out), c.ok
}

// Flags of pathChars, as googleurl names them.
const (
	charPass    = 0
	charSpecial = 1
	charEscape  = 2 | charSpecial
	charUnesc   = 4
	charInvalid = 8 | charSpecial
)

// pathChars is googleurl's kPathCharLookup: what a path byte becomes.
var pathChars = func() (t [256]byte) {
	for c := 0; c < 256; c++ {
		switch {
		case c == 0:
			t[c] = charInvalid
		case c < 0x20 || c >= 0x7f:
			t[c] = charEscape
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			t[c] = charUnesc
		}
	}
	for _, c := range " \"#%<>?\\^`{|}" {
		t[c] = charEscape
	}
	for _, c := range "-_~" {
		t[c] = charUnesc
	}
	t['.'] = charSpecial
	return t
}()

type canonicalizer struct {
	in  string
	out []byte
	ok  bool
}

// partialPath is DoPartialPath with the output's path starting at 0.
func (c *canonicalizer) partialPath() {
	c.ok = true
	lastInvalidPercent := math.MinInt
	for i := 0; i < len(c.in); i++ {
		ch := c.in[i]
		flags := pathChars[ch]
		if flags&charSpecial == 0 {
			c.out = append(c.out, ch)
			continue
		}
		switch dot := isDot(c.in, i); {
		case dot > 0:
			i = c.dot(i, dot)
		case ch == '\\':
			c.out = append(c.out, '/')
		case ch == '%':
			v, ok := decodeEscaped(c.in, i)
			if !ok {
				lastInvalidPercent = len(c.out)
				c.out = append(c.out, '%')
				continue
			}
			i += 2
			if pathChars[v]&charUnesc != 0 {
				c.out = append(c.out, v)
				if lastInvalidPercent >= len(c.out)-3 {
					c.nestedEscapes(i+1, lastInvalidPercent)
				}
				continue
			}
			c.out = append(c.out, '%', c.in[i-1], c.in[i])
			if pathChars[v]&charInvalid == charInvalid {
				c.ok = false
			}
		case flags&charInvalid == charInvalid:
			c.out = appendEscaped(c.out, ch)
			c.ok = false
		case flags&charEscape == charEscape:
			c.out = appendEscaped(c.out, ch)
		}
	}
}

// dot handles a dot (of dotLen input bytes) at i and returns the index of
// the last input byte it used.
func (c *canonicalizer) dot(i, dotLen int) int {
	if len(c.out) == 0 || c.out[len(c.out)-1] != '/' {
		c.out = append(c.out, '.')
		return i + dotLen - 1
	}
	kind, consumed := classifyAfterDot(c.in, i+dotLen)
	switch kind {
	case notADirectory:
		c.out = append(c.out, '.')
		return i + dotLen - 1
	case directoryUp:
		c.backUpToPreviousSlash()
	}
	return i + dotLen + consumed - 1
}

// backUpToPreviousSlash drops the last segment of the output, never
// going above its first slash ("/../a" is "/a").
func (c *canonicalizer) backUpToPreviousSlash() {
	i := len(c.out) - 1
	if i == 0 {
		return
	}
	i--
	for c.out[i] != '/' && i > 0 {
		i--
	}
	c.out = c.out[:i+1]
}

// nestedEscapes is CheckForNestedEscapes: after unescaping near an
// earlier '%' that began no escape, it keeps the output from holding an
// escape the input did not ("%%30%30" must not become "%00"), by writing
// that '%' as "%25".
func (c *canonicalizer) nestedEscapes(next, lastInvalidPercent int) {
	length := len(c.out)
	lastUnescaped := c.out[length-1]
	appendNext := lastInvalidPercent == length-2
	if appendNext {
		if next == len(c.in) || c.in[next] >= 0x80 {
			return
		}
		c.out = append(c.out, c.in[next])
	}
	if _, ok := decodeEscaped(string(c.out), lastInvalidPercent); ok {
		if !appendNext {
			c.out = append(c.out, c.out[lastInvalidPercent+1])
		}
		c.out[lastInvalidPercent+1] = '2'
		c.out[lastInvalidPercent+2] = '5'
		c.out = append(c.out, lastUnescaped)
	} else if appendNext {
		c.out = c.out[:length]
	}
}

type dotKind int

const (
	notADirectory dotKind = iota
	directoryCur
	directoryUp
)

// classifyAfterDot says what a dot followed by s[after:] is, and how many
// bytes after the dot that takes.
func classifyAfterDot(s string, after int) (dotKind, int) {
	if after == len(s) {
		return directoryCur, 0
	}
	if isURLSlash(s[after]) {
		return directoryCur, 1
	}
	if second := isDot(s, after); second > 0 {
		end := after + second
		if end == len(s) {
			return directoryUp, second
		}
		if isURLSlash(s[end]) {
			return directoryUp, second + 1
		}
	}
	return notADirectory, 0
}

// isDot is the length of a dot at s[i], written "." or "%2e": 1, 3 or 0.
func isDot(s string, i int) int {
	if s[i] == '.' {
		return 1
	}
	if s[i] == '%' && i+2 < len(s) && s[i+1] == '2' && (s[i+2] == 'e' || s[i+2] == 'E') {
		return 3
	}
	return 0
}

func isURLSlash(b byte) bool { return b == '/' || b == '\\' }

// decodeEscaped reads the escape "%XY" at s[i].
func decodeEscaped(s string, i int) (byte, bool) {
	if i+3 > len(s) {
		return 0, false
	}
	hi, ok1 := unhex(s[i+1])
	lo, ok2 := unhex(s[i+2])
	return hi<<4 | lo, ok1 && ok2
}

func unhex(b byte) (byte, bool) {
	switch {
	case '0' <= b && b <= '9':
		return b - '0', true
	case 'a' <= b && b <= 'f':
		return b - 'a' + 10, true
	case 'A' <= b && b <= 'F':
		return b - 'A' + 10, true
	}
	return 0, false
}

func appendEscaped(out []byte, b byte) []byte {
	const hex = "0123456789ABCDEF"
	return append(out, '%', hex[b>>4], hex[b&15])
}
