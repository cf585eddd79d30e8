package envoyrules_test

import (
	"strings"
	"testing"

	"embassy.dev/embassy/xds/envoyrules"
)

// TestFormatError checks the scan against the cases Envoy's parser
// decides: "%%" escapes, a command runs to its closing "%", anything else
// after a "%" is refused at the position of that "%".
func TestFormatError(t *testing.T) {
	cases := []struct {
		in  string
		pos int
		bad bool
	}{
		{"plain", 0, false},
		{"50%%", 0, false},
		{"%DOWNSTREAM_REMOTE_ADDRESS%", 0, false},
		{"%REQ(:AUTHORITY)%", 0, false},
		{"%REQ(x-a):10% and %%", 0, false},
		{"%START_TIME(%s)%", 0, false},
		{"50%", 2, true},
		{"a % b", 2, true},
		{"%%%", 2, true},
		{"%lower%", 0, true},
		{"ok %REQ(x% then", 3, true},
		{"%", 0, true},
	}
	for _, c := range cases {
		pos, bad := envoyrules.FormatError(c.in)
		if bad != c.bad || (bad && pos != c.pos) {
			t.Errorf("FormatError(%q) = %d, %v; want %d, %v", c.in, pos, bad, c.pos, c.bad)
		}
	}
}

// FuzzFormatError checks, for any value, that a refusal points at a "%"
// inside the value, and that escaping every "%" (what the translator does
// for a literal value) always gives a value Envoy accepts.
func FuzzFormatError(f *testing.F) {
	for _, s := range []string{"", "50%", "%%", "%A%", "%REQ(a):3%", "%(%", "%A(b)c%", "x%y%z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if pos, bad := envoyrules.FormatError(s); bad && (pos < 0 || pos >= len(s) || s[pos] != '%') {
			t.Fatalf("FormatError(%q) points at %d", s, pos)
		}
		if pos, bad := envoyrules.FormatError(strings.ReplaceAll(s, "%", "%%")); bad {
			t.Fatalf("escaped %q refused at %d", s, pos)
		}
	})
}
