// Package jwt verifies end users' JSON Web Tokens the way Envoy's
// jwt_authn filter does, so that the agent's ext_authz server refuses the
// tokens Envoy would refuse and hands Rego the same claims: a signature
// by a key of the provider's JWKS (never "none", and only the algorithms
// that key's type signs with), the issuer, an audience, and exp and nbf
// with Envoy's default clock skew.
package jwt
