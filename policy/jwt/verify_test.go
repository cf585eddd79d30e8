package jwt_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"embassy.dev/embassy/pkg/jwks"
	"embassy.dev/embassy/policy/jwt"
	"embassy.dev/embassy/policy/jwt/jwttest"
)

func provider(t *testing.T, jwks string) *jwt.Verifier {
	t.Helper()
	v, err := jwt.NewVerifier([]jwt.Provider{{Name: "users", Issuer: "iss", JWKS: jwks}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestAlgorithmMustSuitTheKey: a token whose alg is not what its key signs
// with is refused even though its signature would check with that key's
// curve or modulus.
func TestAlgorithmMustSuitTheKey(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// A P-384 key published as if it were P-256's ES256 key is skipped.
	bad, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p384.PublicKey, KeyID: "k", Algorithm: "ES256", Use: "sig"}}})
	if _, err := jwks.Parse(bad); err == nil {
		t.Fatal("a P-384 key claiming ES256 was accepted")
	}

	rsa := jwttest.NewKey(t, jose.RS256, "k")
	ec := jwttest.NewKey(t, jose.ES256, "k")
	v := provider(t, jwttest.JWKS(t, rsa)) // the RSA key pinned to RS256
	claims := map[string]any{"iss": "iss", "sub": "a", "exp": time.Now().Add(time.Minute).Unix()}
	if _, err := v.Verify(map[string]string{"authorization": "Bearer " + rsa.Sign(t, claims)}, time.Now()); err != nil {
		t.Fatalf("RS256 token: %v", err)
	}
	// An ES256 token with the RSA key's kid finds no key of its type.
	_, err = v.Verify(map[string]string{"authorization": "Bearer " + ec.Sign(t, claims)}, time.Now())
	if !errors.Is(err, jwt.ErrInvalid) {
		t.Fatalf("ES256 token against an RSA key: %v", err)
	}
}

func TestMissingTokenIsNotAnError(t *testing.T) {
	v := provider(t, jwttest.JWKS(t, jwttest.NewKey(t, jose.ES256, "k")))
	for _, h := range []map[string]string{nil, {"authorization": "Basic abc"}, {"authorization": "Bearer "}} {
		res, err := v.Verify(h, time.Now())
		if err != nil || len(res) != 0 {
			t.Errorf("headers %v: results %v, error %v; want neither", h, res, err)
		}
	}
}
