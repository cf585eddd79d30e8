package jwks_test

import (
	"encoding/json"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"embassy.dev/embassy/pkg/jwks"
	"embassy.dev/embassy/policy/jwt/jwttest"
)

// TestParse checks which keys a set keeps and the errors that name what
// is wrong with one that keeps none.
func TestParse(t *testing.T) {
	rsa := jwttest.NewKey(t, jose.RS256, "r")
	ec := jwttest.NewKey(t, jose.ES256, "e")
	hmac := `{"kty":"oct","k":"c2VjcmV0"}`
	enc := strings.Replace(jwttest.JWKS(t, ec), `"use":"sig"`, `"use":"enc"`, 1)
	for _, c := range []struct {
		name, doc, err string
		keys           []string
	}{
		{name: "two usable keys", doc: jwttest.JWKS(t, rsa, ec), keys: []string{"r", "e"}},
		{name: "a symmetric key is skipped", doc: `{"keys":[` + hmac + `]}`, err: "JWKS has no usable key (keys[0]: invalid key)"},
		{name: "an encryption key is skipped", doc: enc, err: `JWKS has no usable key (keys[0]: use is "enc", not sig)`},
		{name: "no keys", doc: `{"keys":[]}`, err: "JWKS has no keys"},
		{name: "not an object", doc: `[1]`, err: "JWKS is not a JSON object with a keys list"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ks, err := jwks.Parse([]byte(c.doc))
			if c.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), c.err) {
					t.Fatalf("Parse = %v, want an error starting %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, k := range ks.Keys() {
				ids = append(ids, k.ID)
			}
			if strings.Join(ids, ",") != strings.Join(c.keys, ",") || ks.Len() != len(c.keys) {
				t.Fatalf("keys %v (Len %d), want %v", ids, ks.Len(), c.keys)
			}
		})
	}
}

// TestKeyVerifiesOnlyItsAlgorithm checks that a key pinned to one alg
// verifies that one alone, and that an unpinned key verifies its type's.
func TestKeyVerifiesOnlyItsAlgorithm(t *testing.T) {
	ks, err := jwks.Parse([]byte(jwttest.JWKS(t, jwttest.NewKey(t, jose.RS256, "r"))))
	if err != nil {
		t.Fatal(err)
	}
	k := ks.Keys()[0]
	if !k.Verifies(jose.RS256) || k.Verifies(jose.PS256) || k.Verifies(jose.HS256) {
		t.Fatalf("RS256-pinned key verifies %v", k.Algorithms)
	}
	pub := jwttest.NewKey(t, jose.ES256, "e").Public()
	pub.Algorithm = ""
	doc, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
	if ks, err = jwks.Parse(doc); err != nil {
		t.Fatal(err)
	}
	if k := ks.Keys()[0]; !k.Verifies(jose.ES256) || k.Verifies(jose.ES384) {
		t.Fatalf("unpinned P-256 key verifies %v", k.Algorithms)
	}
}

// TestDocument checks the two ways a field holds a set, and that an
// empty field holds none.
func TestDocument(t *testing.T) {
	for raw, want := range map[string]string{
		`{"keys":[]}`:           `{"keys":[]}`,
		` "{\"keys\":[]} " `:    `{"keys":[]}`,
		"\n{\"keys\": [1]}\n\t": `{"keys": [1]}`,
	} {
		if !jwks.Present(json.RawMessage(raw)) {
			t.Errorf("Present(%q) = false", raw)
		}
		got, err := jwks.Document(json.RawMessage(raw))
		if err != nil || string(got) != want {
			t.Errorf("Document(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{"", "  ", "null", " null\n"} {
		if jwks.Present(json.RawMessage(raw)) {
			t.Errorf("Present(%q) = true", raw)
		}
		if _, err := jwks.Document(json.RawMessage(raw)); err == nil || err.Error() != "no JWKS" {
			t.Errorf("Document(%q) = %v, want no JWKS", raw, err)
		}
	}
}
