// Package jwttest issues real signed tokens and JWKS documents for tests:
// keys made fresh per test, tokens signed with go-jose, and the malformed
// tokens a verifier must refuse (unsigned, tampered).
package jwttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// Key is a signing key with its key id and algorithm.
type Key struct {
	ID   string
	Alg  jose.SignatureAlgorithm
	priv any
}

// NewKey makes a key for alg (jose.ES256 or jose.RS256).
func NewKey(t testing.TB, alg jose.SignatureAlgorithm, kid string) *Key {
	t.Helper()
	var (
		priv any
		err  error
	)
	switch alg {
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("jwttest: unsupported alg %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &Key{ID: kid, Alg: alg, priv: priv}
}

// Public is the key's public JWK.
func (k *Key) Public() jose.JSONWebKey {
	jwk := jose.JSONWebKey{Key: k.priv, KeyID: k.ID, Algorithm: string(k.Alg), Use: "sig"}
	return jwk.Public()
}

// JWKS is a JWKS document holding the public keys given, in order.
func JWKS(t testing.TB, keys ...*Key) string {
	t.Helper()
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.Public())
	}
	raw, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// Sign returns a compact JWS of claims signed by k, with its kid.
func (k *Key) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if k.ID != "" {
		opts = opts.WithHeader("kid", k.ID)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Alg, Key: k.priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Unsigned returns a token with alg "none" and an empty signature.
func Unsigned(t testing.TB, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc.EncodeToString(payload) + "."
}

// Tampered returns tok with its payload replaced by claims, keeping the
// original header and signature.
func Tampered(t testing.TB, tok string, claims map[string]any) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("jwttest: %q is not a compact JWS", tok)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}
