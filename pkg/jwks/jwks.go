// Package jwks reads JSON Web Key Sets the way Envoy's jwt_authn filter
// does: keys it cannot verify with are skipped, and a set without one
// usable key is an error. It sits in the model so that validating an
// applied AuthorizationPolicy and verifying a request's token parse a key
// set with the same code.
package jwks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// KeySet is the usable public keys of a JWKS, in the order it lists them.
type KeySet struct {
	keys []Key
}

// Key is one verification key and the algorithms it may verify.
type Key struct {
	// ID is the key's kid, or "" when the set gives none.
	ID string
	// Public is the public key: *rsa.PublicKey, *ecdsa.PublicKey or
	// ed25519.PublicKey.
	Public any
	// Algorithms are those a token signed with this key may name.
	Algorithms []jose.SignatureAlgorithm
}

// Present reports whether a field holds a key set at all: an absent,
// blank or null field holds none.
func Present(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && string(raw) != "null"
}

// Document returns the JWKS document of a field that holds it either as
// a JSON object or as a string of JSON (as it is often pasted).
func Document(raw json.RawMessage) ([]byte, error) {
	if !Present(raw) {
		return nil, errors.New("no JWKS")
	}
	raw = bytes.TrimSpace(raw)
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return bytes.TrimSpace([]byte(s)), nil
	}
	return raw, nil
}

// Parse reads a JWKS ({"keys": [...]}). Keys it cannot use (unknown
// types, symmetric keys, keys whose "use" is not "sig") are skipped, as
// Envoy skips them; a set without one usable key is an error, since it
// could verify nothing.
func Parse(doc []byte) (*KeySet, error) {
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
			return nil, fmt.Errorf("JWKS has no usable key (%s)", strings.Join(skipped, "; "))
		}
		return nil, errors.New("JWKS has no keys")
	}
	return ks, nil
}

// Len is the number of usable keys.
func (ks *KeySet) Len() int { return len(ks.keys) }

// Keys returns the usable keys in the set's order; the caller must not
// change them.
func (ks *KeySet) Keys() []Key { return ks.keys }

// Verifies reports whether the key may check a signature made with alg.
func (k Key) Verifies(alg jose.SignatureAlgorithm) bool {
	return slices.Contains(k.Algorithms, alg)
}

func parseKey(raw json.RawMessage) (Key, error) {
	var meta struct {
		Use string `json:"use"`
	}
	_ = json.Unmarshal(raw, &meta)
	if meta.Use != "" && meta.Use != "sig" {
		return Key{}, fmt.Errorf("use is %q, not sig", meta.Use)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return Key{}, err
	}
	if !jwk.Valid() {
		return Key{}, errors.New("invalid key")
	}
	pub := jwk.Public()
	if pub.Key == nil {
		return Key{}, errors.New("not an asymmetric key")
	}
	k := Key{ID: jwk.KeyID, Public: pub.Key}
	var err error
	if k.Algorithms, err = algorithmsFor(pub.Key); err != nil {
		return Key{}, err
	}
	if jwk.Algorithm != "" {
		alg := jose.SignatureAlgorithm(jwk.Algorithm)
		if !k.Verifies(alg) {
			return Key{}, fmt.Errorf("alg %s does not suit the key's type", jwk.Algorithm)
		}
		k.Algorithms = []jose.SignatureAlgorithm{alg}
	}
	return k, nil
}
