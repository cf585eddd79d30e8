package jwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"embassy.dev/embassy/pkg/jwks"
	jose "github.com/go-jose/go-jose/v4"
)

// Defaults of a Provider, as Envoy's jwt_authn has them.
const (
	// DefaultHeader carries the token as "Bearer <token>".
	DefaultHeader = "authorization"
	// BearerPrefix precedes the token in the Authorization header.
	BearerPrefix = "Bearer "
	// ClockSkew is the leeway on exp and nbf (Envoy's clock_skew_seconds
	// default).
	ClockSkew = 60 * time.Second
	// MetadataNamespace is where Envoy's jwt_authn filter puts verified
	// payloads (payload_in_metadata), one entry per provider name; the
	// ext_authz filter forwards it as the request's metadata context.
	MetadataNamespace = "envoy.filters.http.jwt_authn"
)

// Provider is one issuer of end-user tokens with the keys that verify
// them, resolved: JWKS is the key set itself even when the policy named a
// URL, which the control plane fetched, so nothing downstream fetches.
type Provider struct {
	Name      string   `json:"name"`
	Issuer    string   `json:"issuer"`
	Audiences []string `json:"audiences,omitempty"`
	// JWKS is the JWKS document as compact JSON.
	JWKS string `json:"jwks"`
	// JWKSURL is where JWKS was fetched from, when it was.
	JWKSURL string `json:"jwksURL,omitempty"`
	// FromHeader is the (lower-case) header carrying the token;
	// DefaultHeader when empty, whose value is "Bearer <token>".
	FromHeader string `json:"fromHeader,omitempty"`
	// Forward keeps the token header on the request sent upstream.
	Forward bool `json:"forward,omitempty"`
}

// Header is the lower-case name of the header carrying the token.
func (p Provider) Header() string {
	if p.FromHeader == "" {
		return DefaultHeader
	}
	return strings.ToLower(p.FromHeader)
}

// ValuePrefix is what precedes the token in its header: "Bearer " in the
// Authorization header, nothing in any other.
func (p Provider) ValuePrefix() string {
	if p.Header() == DefaultHeader {
		return BearerPrefix
	}
	return ""
}

// Verifier checks a request's tokens against a policy's providers. It is
// immutable and safe for concurrent use.
type Verifier struct {
	providers []Provider
	keys      []*jwks.KeySet
}

// NewVerifier parses every provider's JWKS; an error names the provider.
// A provider with a URL but no JWKS yet has no keys and refuses every
// token.
func NewVerifier(ps []Provider) (*Verifier, error) {
	v := &Verifier{providers: append([]Provider(nil), ps...)}
	for _, p := range ps {
		if p.JWKS == "" && p.JWKSURL != "" {
			// Not fetched yet: no key, so every token is refused.
			v.keys = append(v.keys, &jwks.KeySet{})
			continue
		}
		ks, err := jwks.Parse([]byte(p.JWKS))
		if err != nil {
			return nil, fmt.Errorf("jwt provider %q: %v", p.Name, err)
		}
		v.keys = append(v.keys, ks)
	}
	return v, nil
}

// Result is one verified token.
type Result struct {
	// Provider is the name of the provider that verified it, the key of
	// its claims under MetadataNamespace.
	Provider string
	// Claims is the token's payload; numbers are json.Number.
	Claims map[string]any
	// Header is the header that carried it; Forward says whether that
	// header goes upstream.
	Header  string
	Forward bool
}

// ErrInvalid marks a request whose token is present but not valid: Envoy
// answers it 401.
var ErrInvalid = errors.New("invalid token")

// Verify checks the tokens of a request whose headers (lower-case names)
// are given, as Envoy's requires_any of every provider plus allow_missing
// does: no token at all passes with no results; otherwise at least one
// provider must verify the token in its header, and every provider that
// does gives a Result. An error wraps ErrInvalid.
func (v *Verifier) Verify(headers map[string]string, now time.Time) ([]Result, error) {
	var (
		out      []Result
		firstErr error
	)
	for i, p := range v.providers {
		tok, ok := extract(headers, p)
		if !ok {
			continue
		}
		claims, err := verifyToken(tok, p, v.keys[i], now)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("%w: %v", ErrInvalid, err)
			}
			continue
		}
		out = append(out, Result{Provider: p.Name, Claims: claims, Header: p.Header(), Forward: p.Forward})
	}
	if len(out) > 0 {
		return out, nil
	}
	return nil, firstErr
}

// extract finds the provider's token; a header without the expected
// prefix carries none (an Authorization header may hold Basic
// credentials).
func extract(headers map[string]string, p Provider) (string, bool) {
	val, ok := headers[p.Header()]
	if !ok {
		return "", false
	}
	prefix := p.ValuePrefix()
	if len(val) < len(prefix) || !strings.EqualFold(val[:len(prefix)], prefix) {
		return "", false
	}
	tok := strings.TrimSpace(val[len(prefix):])
	return tok, tok != ""
}

// verifyToken checks signature, issuer, audience and validity period.
func verifyToken(tok string, p Provider, ks *jwks.KeySet, now time.Time) (map[string]any, error) {
	// Only asymmetric algorithms parse: "none" and HS* are refused here.
	jws, err := jose.ParseSignedCompact(tok, jwks.Algorithms)
	if err != nil {
		return nil, fmt.Errorf("Jwt is not a signed token with a supported alg: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("Jwt must have exactly one signature")
	}
	hdr := jws.Signatures[0].Header
	alg := jose.SignatureAlgorithm(hdr.Algorithm)
	payload, err := verifySignature(jws, ks, alg, hdr.KeyID)
	if err != nil {
		return nil, err
	}
	claims, err := decodeClaims(payload)
	if err != nil {
		return nil, err
	}
	if iss, _ := claims["iss"].(string); iss != p.Issuer {
		return nil, fmt.Errorf("Jwt issuer %q is not the provider's %q", iss, p.Issuer)
	}
	if len(p.Audiences) > 0 && !audienceAllowed(claims["aud"], p.Audiences) {
		return nil, errors.New("Audiences in Jwt are not allowed")
	}
	if exp, ok, err := numericDate(claims, "exp"); err != nil {
		return nil, err
	} else if ok && now.After(exp.Add(ClockSkew)) {
		return nil, errors.New("Jwt is expired")
	}
	if nbf, ok, err := numericDate(claims, "nbf"); err != nil {
		return nil, err
	} else if ok && now.Add(ClockSkew).Before(nbf) {
		return nil, errors.New("Jwt is not yet valid")
	}
	return claims, nil
}

// verifySignature tries the keys that may have signed: those whose kid
// matches the token's (when both have one) and whose type signs with alg.
// Several candidates are normal while a rotation publishes a new key.
func verifySignature(jws *jose.JSONWebSignature, ks *jwks.KeySet, alg jose.SignatureAlgorithm, kid string) ([]byte, error) {
	tried := 0
	for _, k := range ks.Keys() {
		if kid != "" && k.ID != "" && kid != k.ID {
			continue
		}
		if !k.Verifies(alg) {
			continue
		}
		tried++
		if payload, err := jws.Verify(k.Public); err == nil {
			return payload, nil
		}
	}
	if tried == 0 {
		return nil, fmt.Errorf("Jwks doesn't have key to match kid or alg from Jwt (kid %q, alg %s)", kid, alg)
	}
	return nil, errors.New("Jwt verification fails")
}

func decodeClaims(payload []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return nil, errors.New("Jwt payload is not a JSON object")
	}
	return claims, nil
}

func audienceAllowed(aud any, allowed []string) bool {
	var got []string
	switch a := aud.(type) {
	case string:
		got = []string{a}
	case []any:
		for _, e := range a {
			if s, ok := e.(string); ok {
				got = append(got, s)
			}
		}
	}
	for _, g := range got {
		for _, w := range allowed {
			if g == w {
				return true
			}
		}
	}
	return false
}

// numericDate reads a NumericDate claim (seconds since the epoch).
func numericDate(claims map[string]any, name string) (time.Time, bool, error) {
	v, ok := claims[name]
	if !ok {
		return time.Time{}, false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false, fmt.Errorf("Jwt %s is not a number", name)
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, false, fmt.Errorf("Jwt %s is not a number", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}
