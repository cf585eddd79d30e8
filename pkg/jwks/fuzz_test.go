package jwks_test

import (
	"slices"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"embassy.dev/embassy/pkg/jwks"
	"embassy.dev/embassy/policy/jwt/jwttest"
)

// FuzzParse feeds Parse arbitrary documents: it never panics, and a set
// it accepts has a key, and every key verifies only algorithms a usable
// key may.
func FuzzParse(f *testing.F) {
	for _, alg := range []jose.SignatureAlgorithm{jose.RS256, jose.ES256} {
		f.Add([]byte(jwttest.JWKS(f, jwttest.NewKey(f, alg, "k"))))
	}
	for _, s := range []string{
		`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]}`,
		`{"keys":[]}`, `{"keys":null}`, `{}`, `[]`, `null`, ``, `{"keys":[1,"x",{}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		ks, err := jwks.Parse(doc)
		if err != nil {
			return
		}
		if ks.Len() == 0 {
			t.Fatal("accepted a set without a usable key")
		}
		for _, k := range ks.Keys() {
			if k.Public == nil || len(k.Algorithms) == 0 {
				t.Fatalf("key %q has no public key or no algorithm", k.ID)
			}
			for _, a := range k.Algorithms {
				if !slices.Contains(jwks.Algorithms, a) {
					t.Fatalf("key %q verifies %s, not a usable algorithm", k.ID, a)
				}
			}
		}
	})
}
