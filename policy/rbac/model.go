package rbac

import (
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/policy/compile"
)

// Model is what the mesh model carries of a compiled policy: the bundle
// (raw is its encoding, which agents load), its mode and JWT providers,
// the RBAC verdict, and, when there are rules, the caller analysis that
// config scoping reads. The control plane's compiler and the tests'
// in-process one both build it here, so the two cannot drift.
func Model(b *compile.Bundle, raw []byte, compiled bool, reason, location string, rules *rbacv3.RBAC) *mesh.AuthzCompiled {
	out := &mesh.AuthzCompiled{
		Revision: b.Revision(), Bundle: raw, Mode: b.Mode(), JWTProviders: jwtProviders(b),
		Compiled: compiled, Reason: reason, Location: location,
	}
	if rules != nil {
		out.RBAC = rules
		out.MayAllow = func(principal string) bool { return MayAllow(rules, principal) }
		out.Callers = mesh.CallerSet(AllowedPrincipals(rules))
	}
	return out
}

// jwtProviders is a bundle's providers as the model carries them.
func jwtProviders(b *compile.Bundle) []mesh.JWTProvider {
	var out []mesh.JWTProvider
	for _, p := range b.JWTProviders() {
		out = append(out, mesh.JWTProvider{
			Name: p.Name, Issuer: p.Issuer, Audiences: p.Audiences, JWKS: p.JWKS,
			Header: p.Header(), ValuePrefix: p.ValuePrefix(), Forward: p.Forward,
		})
	}
	return out
}
