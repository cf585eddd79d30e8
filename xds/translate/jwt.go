package translate

import (
	"slices"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/emptypb"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// JWTAuthnFilterName is Envoy's JWT authentication filter. It is also the
// dynamic metadata namespace under which it puts each verified payload,
// keyed by provider name, which the ext_authz filter forwards to the
// agent so Rego reads the claims at
// input.attributes.metadataContext.filterMetadata["envoy.filters.http.jwt_authn"].<provider>.
const JWTAuthnFilterName = "envoy.filters.http.jwt_authn"

const (
	// jwtClockSkewSeconds is the leeway on exp and nbf; the agent's
	// verifier uses the same.
	jwtClockSkewSeconds = 60
	// emptyJWKS stands in for a key set not fetched yet: no token
	// verifies, so tokens are refused rather than waved through.
	emptyJWKS = `{"keys":[]}`
)

// jwtFilter builds the jwt_authn filter of a workload's inbound HCMs from
// the JWT providers of the policies targeting it, or nil when they have
// none. Keys are always local (inline): the control plane fetched any
// JWKS URL, so the proxy never does.
//
// The rule is requires_any of every provider plus allow_missing: a request
// with a token must carry one a provider verifies, else Envoy answers 401;
// a request without one goes on to the authorization filters, whose
// policies decide (and may require claims). When only dry-run policies
// name providers the rule is allow_missing_or_failed, so a bad token is
// not refused, only left without claims.
func (t *translator) jwtFilter(w *mesh.Workload) *hcm.HttpFilter {
	cfg := &jwtv3.JwtAuthentication{Providers: map[string]*jwtv3.JwtProvider{}}
	owner := map[string]string{}
	var names []string
	enforce := false
	for _, p := range t.s.AuthorizationPoliciesFor(w) {
		c := p.Compiled
		if c == nil || c.Err != "" || len(c.JWTProviders) == 0 {
			continue
		}
		if p.Enforce {
			enforce = true
		}
		for _, jp := range c.JWTProviders {
			if first, dup := owner[jp.Name]; dup {
				t.diag(resource.KindAuthorizationPolicy, p.Namespace, p.Name,
					"JWT provider %q is also named by policy %s on workload %s; that policy's provider is used", jp.Name, first, w.Name)
				continue
			}
			owner[jp.Name] = p.Namespace + "/" + p.Name
			names = append(names, jp.Name)
			cfg.Providers[jp.Name] = jwtProvider(jp)
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	reqs := make([]*jwtv3.JwtRequirement, 0, len(names)+1)
	for _, n := range names {
		reqs = append(reqs, &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_ProviderName{ProviderName: n}})
	}
	if enforce {
		reqs = append(reqs, &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_AllowMissing{AllowMissing: &emptypb.Empty{}}})
	} else {
		reqs = append(reqs, &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_AllowMissingOrFailed{AllowMissingOrFailed: &emptypb.Empty{}}})
	}
	cfg.Rules = []*jwtv3.RequirementRule{{
		Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}},
		RequirementType: &jwtv3.RequirementRule_Requires{Requires: &jwtv3.JwtRequirement{
			RequiresType: &jwtv3.JwtRequirement_RequiresAny{RequiresAny: &jwtv3.JwtRequirementOrList{Requirements: reqs}},
		}},
	}}
	return &hcm.HttpFilter{Name: JWTAuthnFilterName, ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: toAny(cfg)}}
}

// jwtProvider is one provider with its key set inline.
func jwtProvider(p mesh.JWTProvider) *jwtv3.JwtProvider {
	jwks := p.JWKS
	if jwks == "" {
		jwks = emptyJWKS
	}
	return &jwtv3.JwtProvider{
		Issuer:    p.Issuer,
		Audiences: append([]string(nil), p.Audiences...),
		JwksSourceSpecifier: &jwtv3.JwtProvider_LocalJwks{LocalJwks: &core.DataSource{
			Specifier: &core.DataSource_InlineString{InlineString: jwks},
		}},
		FromHeaders:       []*jwtv3.JwtHeader{{Name: p.Header, ValuePrefix: p.ValuePrefix}},
		Forward:           p.Forward,
		PayloadInMetadata: p.Name,
		ClockSkewSeconds:  jwtClockSkewSeconds,
	}
}

// hasJWT reports whether a compiled policy names JWT providers.
func hasJWT(c *mesh.AuthzCompiled) bool { return c != nil && len(c.JWTProviders) > 0 }
