package engine

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

const jwtSecret = "engine-test-secret"

// hs256 signs claims with jwtSecret, or with another secret when forged.
func hs256(t testing.TB, claims map[string]any, forged bool) string {
	t.Helper()
	enc := base64.RawURLEncoding
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signing := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(payload)
	secret := jwtSecret
	if forged {
		secret = "not-" + jwtSecret
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

// jwtPolicy allows a reader's token verified at the input's time.
const jwtPolicy = `default allow := false

allow if {
	[valid, _, payload] := io.jwt.decode_verify(input.token, {"secret": "` + jwtSecret + `", "time": input.now})
	valid
	payload.role == "reader"
}
`

// TestVerifiedTokensCached: a token the policy verified is in the
// revision's token cache, and the cached verification still refuses it
// once it has expired; a forged token stays refused, however often it
// comes.
func TestVerifiedTokensCached(t *testing.T) {
	e := loadedEngine(t, bundle(t, jwtPolicy))
	exp := time.Now().Add(time.Hour)
	token := hs256(t, map[string]any{"role": "reader", "exp": exp.Unix()}, false)
	forged := hs256(t, map[string]any{"role": "reader", "exp": exp.Unix()}, true)
	decide := func(tok string, at time.Time) bool {
		t.Helper()
		d, err := e.Decide(context.Background(), map[string]any{"token": tok, "now": at.UnixNano()})
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed
	}
	for range 3 {
		if !decide(token, time.Now()) || decide(forged, time.Now()) {
			t.Fatal("want the token allowed and the forged one denied")
		}
	}
	key := ast.NewArray(ast.StringTerm(token), ast.NewTerm(ast.NewObject(ast.Item(ast.StringTerm("secret"), ast.StringTerm(jwtSecret)))))
	tokens := e.cur.Load().builtins.GetCache(jwtCacheName)
	if tokens == nil {
		t.Fatal("the revision has no token cache")
	}
	if _, ok := tokens.Get(key); !ok {
		t.Fatal("the verified token is not in the revision's token cache")
	}
	if decide(token, exp.Add(time.Second)) {
		t.Error("the cached token was allowed after it expired")
	}
	if !decide(token, time.Now()) {
		t.Error("the token was refused again before it expired")
	}
}

// BenchmarkDecideJWT is one decision of a JWT policy by a caller sending
// the same token, with OPA's builtin caches of the revision and without.
func BenchmarkDecideJWT(b *testing.B) {
	token := hs256(b, map[string]any{"role": "reader", "exp": time.Now().Add(time.Hour).Unix()}, false)
	for _, cached := range []bool{false, true} {
		b.Run(map[bool]string{false: "uncached", true: "cached"}[cached], func(b *testing.B) {
			e := loadedEngine(b, bundle(b, jwtPolicy))
			if !cached {
				l := *e.cur.Load()
				l.builtins = nil
				e.cur.Store(&l)
			}
			input := map[string]any{"token": token, "now": time.Now().UnixNano()}
			b.ReportAllocs()
			for b.Loop() {
				if d, err := e.Decide(context.Background(), input); err != nil || !d.Allowed {
					b.Fatal(d, err)
				}
			}
		})
	}
}
