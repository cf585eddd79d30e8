package jointoken

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := "emb1.0123456789abcdef." + strings.Repeat("a", 43)
	if id, sec, err := Parse(good); err != nil || id != "0123456789abcdef" || len(sec) != 43 {
		t.Fatalf("Parse(%q) = %q, %q, %v", good, id, sec, err)
	}
	for _, bad := range []string{
		"", "emb1.", "emb2.0123456789abcdef." + strings.Repeat("a", 43),
		"emb1.0123456789ABCDEF." + strings.Repeat("a", 43),
		"emb1.0123456789abcde." + strings.Repeat("a", 43),
		"emb1.0123456789abcdef." + strings.Repeat("a", 42),
		"emb1.0123456789abcdef." + strings.Repeat("a", 42) + "=",
		"emb1.0123456789abcdef." + strings.Repeat("a", 42) + ".",
		"emb1.0123456789abcdef" + strings.Repeat("a", 44),
	} {
		if _, _, err := Parse(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"emb1.0123456789abcdef." + strings.Repeat("a", 43),
		"emb1.0123456789abcdef." + strings.Repeat("-_", 21) + "Z",
		"", "emb1.", "emb1..", "emb1.0123456789abcdef.", "emb1.0123456789abcdef.x.y",
		"emb2.0123456789abcdef." + strings.Repeat("a", 43),
		"emb1.0123456789abcdef." + strings.Repeat("é", 22),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, err := Parse(s)
		if err != nil {
			if id != "" || secret != "" {
				t.Fatalf("Parse(%q) failed but returned parts", s)
			}
			return
		}
		if "emb1."+id+"."+secret != s {
			t.Fatalf("Parse(%q) = %q, %q: not the input's parts", s, id, secret)
		}
		if len(id) != idLen || !isLowerHex(id) || len(secret) != secretLen || !isBase64URL(secret) {
			t.Fatalf("Parse(%q) accepted malformed parts %q, %q", s, id, secret)
		}
	})
}

// A new token has the format Parse accepts, and its parts; two differ.
func TestNewParses(t *testing.T) {
	id, secret, token, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if gotID, gotSecret, err := Parse(token); err != nil || gotID != id || gotSecret != secret {
		t.Fatalf("Parse(New()) = %q, %q, %v; want %q and its secret", gotID, gotSecret, err, id)
	}
	if _, _, again, _ := New(); again == token {
		t.Fatal("two new tokens are equal")
	}
}
