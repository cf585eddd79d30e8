package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"embassy.dev/embassy/pkg/store"
)

// jwtKey is an ES256 JWT-SVID signing key and its key ID.
type jwtKey struct {
	key *ecdsa.PrivateKey
	kid string
}

// newJWTKeyDER makes an ECDSA P-256 key and returns it as PKCS#8.
func newJWTKeyDER() ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate JWT key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode JWT key: %w", err)
	}
	return der, nil
}

// parseJWTKey reads a PKCS#8 P-256 key; its key ID is derived from the
// public key so it is stable across restarts.
func parseJWTKey(der []byte) (jwtKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return jwtKey{}, fmt.Errorf("parse JWT key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return jwtKey{}, fmt.Errorf("JWT key is not ECDSA P-256")
	}
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return jwtKey{}, fmt.Errorf("encode JWT public key: %w", err)
	}
	sum := sha256.Sum256(spki)
	return jwtKey{key: key, kid: hex.EncodeToString(sum[:16])}, nil
}

// loadOrCreateJWTKey reads a provided CA's JWT key from SecretProvidedJWT,
// or makes and stores one.
func loadOrCreateJWTKey(sec store.Secrets) (jwtKey, error) {
	der, err := sec.GetSecret(SecretProvidedJWT)
	if errors.Is(err, store.ErrNotFound) {
		if der, err = newJWTKeyDER(); err != nil {
			return jwtKey{}, err
		}
		// Control planes starting together keep the first key stored.
		err := sec.SwapSecret(SecretProvidedJWT, nil, der)
		if errors.Is(err, store.ErrSecretChanged) {
			der, err = sec.GetSecret(SecretProvidedJWT)
		}
		if err != nil {
			return jwtKey{}, fmt.Errorf("store JWT key %q: %w", SecretProvidedJWT, err)
		}
	} else if err != nil {
		return jwtKey{}, fmt.Errorf("read JWT key %q: %w", SecretProvidedJWT, err)
	}
	return parseJWTKey(der)
}

// MintJWT signs a JWT-SVID (ES256, header kid; claims sub, aud, exp, iat)
// for id. ttl is capped at the CA's MaxSVIDTTL.
func (c *CA) MintJWT(id spiffeid.ID, audience []string, ttl time.Duration) (string, time.Time, error) {
	if !id.MemberOf(c.td) {
		return "", time.Time{}, fmt.Errorf("SPIFFE ID %q is not in trust domain %q", id, c.td)
	}
	if len(audience) == 0 {
		return "", time.Time{}, fmt.Errorf("JWT-SVID needs at least one audience: name the service that will read it")
	}
	for _, a := range audience {
		if a == "" {
			return "", time.Time{}, fmt.Errorf("JWT-SVID audience is empty: name the service that will read it")
		}
	}
	ttl, err := c.clampTTL(ttl)
	if err != nil {
		return "", time.Time{}, err
	}
	now := c.now()
	r, exp, err := c.reserve(now, now.Add(ttl))
	if err != nil {
		return "", time.Time{}, err
	}
	// JWT times are whole seconds; round exp down so the token never
	// outlives what was reserved.
	exp = exp.Truncate(time.Second)
	tok, err := signJWT(r.jwt, map[string]any{
		"sub": id.String(),
		"aud": audience,
		"exp": exp.Unix(),
		"iat": now.Unix(),
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, exp, nil
}

// signJWT serializes an ES256 JWS in compact form.
func signJWT(k jwtKey, claims map[string]any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": k.kid})
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode JWT claims: %w", err)
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(header) + "." + enc.EncodeToString(body)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.key, digest[:])
	if err != nil {
		return "", fmt.Errorf("sign JWT: %w", err)
	}
	// JWS wants r||s, each left-padded to the curve size (RFC 7518 §3.4).
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + enc.EncodeToString(sig), nil
}

// JWTBundle returns the JWT-SVID public keys of every root in the bundle.
func (c *CA) JWTBundle() *jwtbundle.Bundle {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshLocked(c.now())
	keys := make(map[string]crypto.PublicKey, len(c.roots))
	for _, r := range c.roots {
		keys[r.jwt.kid] = r.jwt.key.Public()
	}
	return jwtbundle.FromJWTAuthorities(c.td, keys)
}

// JWKS returns the JWT-SVID public keys as a JSON Web Key Set.
func (c *CA) JWKS() ([]byte, error) {
	return c.JWTBundle().Marshal()
}
