package api

import (
	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/mesh"
)

// dryRunReason says why a dry-run policy that compiles to RBAC is
// nevertheless the agents' to decide.
const dryRunReason = "dry-run: the agents decide it and count what it would deny; it compiles to RBAC for when it is enforced"

// enforcementOf decides the path a policy runs on, for /v1/policies,
// describe and policy explain alike: RBAC only when the policy compiled
// to RBAC and is enforced. A dry-run policy goes to the agents whatever it
// compiles to, since RBAC cannot count would-denies (the translator's
// authzFilters applies the same rule).
func enforcementOf(p *mesh.AuthorizationPolicy, c *mesh.AuthzCompiled) (enforcement, reason string) {
	switch {
	case c.Compiled && p.Mode == mesh.ModeDryRun:
		return apiwire.EnforcedByExtAuthz, dryRunReason
	case c.Compiled:
		return apiwire.EnforcedByRBAC, ""
	}
	return apiwire.EnforcedByExtAuthz, c.Reason
}

// proxylessNote says what an enforced policy does on the proxyless gRPC
// servers it targets when their RBAC filter cannot carry it: gRPC has no
// ext_authz filter, so the translator fails closed with a deny-all filter.
// It does so even for a server that has its agent decide each call
// (pkg/grpcauthz), because the control plane cannot tell such a server
// from one that does not, and leaving the decision to a server that never
// asks would allow every call. "" when the note does not apply.
func proxylessNote(p *mesh.AuthorizationPolicy, c *mesh.AuthzCompiled) string {
	var why string
	switch {
	case p.Mode == mesh.ModeDryRun || c.Err != "":
		return ""
	case len(c.JWTProviders) > 0:
		why = "it names JWT providers, which proxyless gRPC servers cannot verify"
	case !c.Compiled:
		why = "gRPC's RBAC filter cannot express it"
	default:
		return ""
	}
	return "proxyless gRPC servers it targets deny every call: " + why +
		", and they have no ext_authz; this holds even when the server has its agent decide (echo-server --authz-socket)." +
		" Run those workloads with an Envoy sidecar, or keep the policy to what compiles to RBAC (docs/authorization.md)"
}
