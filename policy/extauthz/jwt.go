package extauthz

import (
	"net/http"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"
	"embassy.dev/embassy/policy/jwt"
)

// invalidTokenChallenge is the WWW-Authenticate value of a 401 for a bad
// token (RFC 6750), as Envoy's jwt_authn sends it.
const invalidTokenChallenge = `Bearer error="invalid_token"`

// jwtCheck does what Envoy's jwt_authn filter does before ext_authz, so a
// request decides alike with or without Envoy in front: when the bundle
// names JWT providers, a request with a token must carry a valid one (else
// the returned decision refuses it with 401), and each verified payload is
// put into input where jwt_authn's payload_in_metadata puts it:
// attributes.metadataContext.filterMetadata["envoy.filters.http.jwt_authn"][<provider>].
// A request without a token is left to the policy. It returns the token
// headers that are not forwarded upstream, removed from input too, as
// jwt_authn removes them before ext_authz sees the request.
func jwtCheck(b *compile.Bundle, req *authv3.CheckRequest, input map[string]any, now time.Time) (remove []string, denied *engine.Decision) {
	if b == nil || b.JWTVerifier() == nil {
		return nil, nil
	}
	headers := req.GetAttributes().GetRequest().GetHttp().GetHeaders()
	results, err := b.JWTVerifier().Verify(headers, now)
	if err != nil {
		return nil, &engine.Decision{
			Policy:     b.Name(),
			Revision:   b.Revision(),
			DryRun:     b.Mode() == compile.ModeDryRun,
			Reason:     err.Error(),
			HTTPStatus: http.StatusUnauthorized,
			Headers:    []engine.Header{{Key: "www-authenticate", Value: invalidTokenChallenge}},
			Body:       "Jwt verification fails",
		}
	}
	if len(results) == 0 {
		return nil, nil
	}
	attrs := child(input, "attributes")
	filterMeta := child(child(attrs, "metadataContext"), "filterMetadata")
	ns := child(filterMeta, jwt.MetadataNamespace)
	httpReq, _ := child(attrs, "request")["http"].(map[string]any)
	reqHeaders, _ := httpReq["headers"].(map[string]any)
	for _, r := range results {
		ns[r.Provider] = r.Claims
		if !r.Forward {
			remove = append(remove, r.Header)
			delete(reqHeaders, r.Header)
		}
	}
	return remove, nil
}

// child returns m[key] as an object, making it when absent or not one.
func child(m map[string]any, key string) map[string]any {
	if c, ok := m[key].(map[string]any); ok {
		return c
	}
	c := map[string]any{}
	m[key] = c
	return c
}
