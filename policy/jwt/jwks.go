// Package jwt verifies end users' JSON Web Tokens the way Envoy's
// jwt_authn filter does, so that the agent's ext_authz server refuses the
// tokens Envoy would refuse and hands Rego the same claims: a signature
// by a key of the provider's JWKS (never "none", and only the algorithms
// that key's type signs with), the issuer, an audience, and exp and nbf
// with Envoy's default clock skew.
package jwt

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// KeySet is the usable public keys of a JWKS, in the order it lists them.
type KeySet struct {
	keys []key
}

// key is one verification key and the algorithms it may verify.
type key struct {
	id   string
	pub  any
	algs []jose.SignatureAlgorithm
}

// JWKSBytes returns the JWKS document of a field that holds it either as
// a JSON object or as a string of JSON (as it is often pasted).
func JWKSBytes(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New("no JWKS")
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return bytes.TrimSpace([]byte(s)), nil
	}
	return raw, nil
}

// ParseKeySet reads a JWKS ({"keys": [...]}). Keys it cannot use (unknown
// types, symmetric keys, keys whose "use" is not "sig") are skipped, as
// Envoy skips them; a set without one usable key is an error, since it
// could verify nothing.
func ParseKeySet(doc []byte) (*KeySet, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("JWKS is not a JSON object with a keys list: %v", err)
	}
	ks := &KeySet{}
	var skipped []string
	for i, raw := range set.Keys {
		k, err := parseKey(raw)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("keys[%d]: %v", i, err))
			continue
		}
		ks.keys = append(ks.keys, k)
	}
	if len(ks.keys) == 0 {
		if len(skipped) > 0 {
			return nil, fmt.Errorf("JWKS has no usable key (%s)", joinErrs(skipped))
		}
		return nil, errors.New("JWKS has no keys")
	}
	return ks, nil
}

// Len is the number of usable keys.
func (ks *KeySet) Len() int { return len(ks.keys) }

func parseKey(raw json.RawMessage) (key, error) {
	var meta struct {
		Use string `json:"use"`
	}
	_ = json.Unmarshal(raw, &meta)
	if meta.Use != "" && meta.Use != "sig" {
		return key{}, fmt.Errorf("use is %q, not sig", meta.Use)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return key{}, err
	}
	if !jwk.Valid() {
		return key{}, errors.New("invalid key")
	}
	pub := jwk.Public()
	if pub.Key == nil {
		return key{}, errors.New("not an asymmetric key")
	}
	algs, err := algorithmsFor(pub.Key)
	if err != nil {
		return key{}, err
	}
	if jwk.Algorithm != "" {
		if !containsAlg(algs, jose.SignatureAlgorithm(jwk.Algorithm)) {
			return key{}, fmt.Errorf("alg %s does not suit the key's type", jwk.Algorithm)
		}
		algs = []jose.SignatureAlgorithm{jose.SignatureAlgorithm(jwk.Algorithm)}
	}
	return key{id: jwk.KeyID, pub: pub.Key, algs: algs}, nil
}

// algorithmsFor lists the algorithms a public key verifies: a token's alg
// must be one of them, so an RSA key cannot be made to check an HMAC or a
// P-256 key an ES384 signature.
func algorithmsFor(pub any) ([]jose.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("RSA key of %d bits is too short", k.N.BitLen())
		}
		return []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512}, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return []jose.SignatureAlgorithm{jose.ES256}, nil
		case elliptic.P384():
			return []jose.SignatureAlgorithm{jose.ES384}, nil
		case elliptic.P521():
			return []jose.SignatureAlgorithm{jose.ES512}, nil
		}
		return nil, errors.New("unsupported curve")
	case ed25519.PublicKey:
		return []jose.SignatureAlgorithm{jose.EdDSA}, nil
	}
	return nil, fmt.Errorf("unsupported key type %T", pub)
}

// allAlgorithms is every algorithm a usable key may verify; "none" and the
// HMAC family are absent, so such tokens fail to parse at all.
var allAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

func containsAlg(algs []jose.SignatureAlgorithm, a jose.SignatureAlgorithm) bool {
	for _, x := range algs {
		if x == a {
			return true
		}
	}
	return false
}

func joinErrs(msgs []string) string {
	var b bytes.Buffer
	for i, m := range msgs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(m)
	}
	return b.String()
}
