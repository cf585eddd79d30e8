package resource

import (
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"embassy.dev/embassy/policy/jwt/jwttest"
)

func TestValidateJWTProviders(t *testing.T) {
	jwks := jwttest.JWKS(t, jwttest.NewKey(t, jose.ES256, "k1"))
	quoted, _ := json.Marshal(jwks)
	const base = "targets: {services: [a]}\nmodules: [{name: a.rego, rego: 'package envoy.authz'}]\n"
	spec := func(providers string) string { return base + "jwtProviders:\n" + providers }
	const p0 = "spec.jwtProviders[0]"
	runSpecCases(t, []specCase{
		{name: "inline object", kind: KindAuthorizationPolicy, spec: spec("- {name: users, issuer: https://id.example.com, audiences: [orders], jwks: " + jwks + "}")},
		{name: "inline string", kind: KindAuthorizationPolicy, spec: spec("- {name: users, issuer: https://id.example.com, jwks: " + string(quoted) + ", fromHeader: x-token, forward: true}")},
		{name: "url", kind: KindAuthorizationPolicy, spec: spec("- {name: users, issuer: https://id.example.com, jwksURL: 'https://id.example.com/.well-known/jwks.json'}")},
		{name: "name missing", kind: KindAuthorizationPolicy, spec: spec("- {issuer: i, jwksURL: 'https://x/jwks'}"), path: p0 + ".name", msg: "required"},
		{name: "name not a label", kind: KindAuthorizationPolicy, spec: spec("- {name: Users_1, issuer: i, jwksURL: 'https://x/jwks'}"), path: p0 + ".name", msg: "DNS-1123 label"},
		{name: "name twice", kind: KindAuthorizationPolicy, spec: spec("- {name: u, issuer: i, jwksURL: 'https://x/jwks'}\n- {name: u, issuer: j, jwksURL: 'https://y/jwks'}"), path: "spec.jwtProviders[1].name", msg: "duplicate provider name \"u\""},
		{name: "issuer missing", kind: KindAuthorizationPolicy, spec: spec("- {name: u, jwksURL: 'https://x/jwks'}"), path: p0 + ".issuer", msg: "required"},
		{name: "neither jwks nor url", kind: KindAuthorizationPolicy, spec: spec("- {name: u, issuer: i}"), path: p0, msg: "exactly one of jwks"},
		{name: "both jwks and url", kind: KindAuthorizationPolicy, spec: spec("- {name: u, issuer: i, jwksURL: 'https://x/jwks', jwks: " + jwks + "}"), path: p0, msg: "not both"},
		{name: "jwks without keys", kind: KindAuthorizationPolicy, spec: spec("- {name: u, issuer: i, jwks: {keys: []}}"), path: p0 + ".jwks", msg: "no keys"},
		{name: "jwks not a key set", kind: KindAuthorizationPolicy, spec: spec("- {name: u, issuer: i, jwks: 'not json'}"), path: p0 + ".jwks", msg: "must be a JWKS"},
		{name: "jwks with only a symmetric key", kind: KindAuthorizationPolicy, spec: spec("- {name: u, issuer: i, jwks: {keys: [{kty: oct, k: c2VjcmV0}]}}"), path: p0 + ".jwks", msg: "no usable key"},
		{name: "jwks with an encryption key", kind: KindAuthorizationPolicy, spec: spec("- {name: u, issuer: i, jwks: {keys: [{kty: EC, use: enc, crv: P-256, x: a, y: b}]}}"), path: p0 + ".jwks", msg: "not sig"},
		{name: "url not http", kind: KindAuthorizationPolicy, spec: spec("- {name: u, issuer: i, jwksURL: 'file:///etc/jwks.json'}"), path: p0 + ".jwksURL", msg: "absolute http(s) URL"},
		{name: "url relative", kind: KindAuthorizationPolicy, spec: spec("- {name: u, issuer: i, jwksURL: /jwks.json}"), path: p0 + ".jwksURL", msg: "absolute http(s) URL"},
		{name: "empty audience", kind: KindAuthorizationPolicy, spec: spec("- {name: u, issuer: i, audiences: [''], jwksURL: 'https://x/jwks'}"), path: p0 + ".audiences[0]", msg: "must not be empty"},
		{name: "bad header", kind: KindAuthorizationPolicy, spec: spec("- {name: u, issuer: i, fromHeader: 'x token', jwksURL: 'https://x/jwks'}"), path: p0 + ".fromHeader", msg: "HTTP header name"},
		{name: "unknown field", kind: KindAuthorizationPolicy, spec: spec("- {name: u, issuer: i, jwksUri: 'https://x/jwks'}"), path: p0 + ".jwksUri", msg: "unknown field"},
	})
}
