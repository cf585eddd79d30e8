package extauthz

import (
	"net/http"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/open-policy-agent/opa/v1/ast"

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
// A request without a token is left to the policy. It returns the input
// so amended, and the token headers that are not forwarded upstream,
// removed from input too, as jwt_authn removes them before ext_authz sees
// the request.
func jwtCheck(b *compile.Bundle, req *authv3.CheckRequest, input ast.Object, now time.Time) (ast.Object, []string, *engine.Decision) {
	if b == nil || b.JWTVerifier() == nil {
		return input, nil, nil
	}
	headers := req.GetAttributes().GetRequest().GetHttp().GetHeaders()
	results, err := b.JWTVerifier().Verify(headers, now)
	if err != nil {
		return input, nil, invalidToken(b, err)
	}
	var remove []string
	for _, r := range results {
		claims, err := ast.InterfaceToValue(r.Claims)
		if err != nil {
			return input, nil, invalidToken(b, err)
		}
		input = setIn(input, claims, "attributes", "metadataContext", "filterMetadata", jwt.MetadataNamespace, r.Provider)
		if !r.Forward {
			remove = append(remove, r.Header)
			input = dropIn(input, r.Header, "attributes", "request", "http", "headers")
		}
	}
	return input, remove, nil
}

// invalidToken refuses a request with 401, as jwt_authn does.
func invalidToken(b *compile.Bundle, err error) *engine.Decision {
	return &engine.Decision{
		Policy:     b.Name(),
		Revision:   b.Revision(),
		DryRun:     b.Mode() == compile.ModeDryRun,
		Reason:     err.Error(),
		HTTPStatus: http.StatusUnauthorized,
		Headers:    []engine.Header{{Key: "www-authenticate", Value: invalidTokenChallenge}},
		Body:       "Jwt verification fails",
	}
}

// setIn returns obj with v at path, making the objects on the way (and
// replacing what is not one). Each object on the path is rebuilt rather
// than changed in place, since an object caches its members' hashes.
func setIn(obj ast.Object, v ast.Value, path ...string) ast.Object {
	key := ast.StringTerm(path[0])
	if len(path) > 1 {
		c := ast.NewObject()
		if t := obj.Get(key); t != nil {
			if o, ok := t.Value.(ast.Object); ok {
				c = o
			}
		}
		v = setIn(c, v, path[1:]...)
	}
	out := ast.NewObjectWithCapacity(obj.Len() + 1)
	obj.Foreach(func(k, e *ast.Term) {
		if !k.Equal(key) {
			out.Insert(k, e)
		}
	})
	out.Insert(key, ast.NewTerm(v))
	return out
}

// dropIn returns obj without the member name of the object at path, or
// obj itself when there is no such object.
func dropIn(obj ast.Object, name string, path ...string) ast.Object {
	var inner ast.Object = obj
	for _, p := range path {
		t := inner.Get(ast.StringTerm(p))
		if t == nil {
			return obj
		}
		o, ok := t.Value.(ast.Object)
		if !ok {
			return obj
		}
		inner = o
	}
	drop := ast.StringTerm(name)
	if inner.Get(drop) == nil {
		return obj
	}
	kept := ast.NewObjectWithCapacity(inner.Len())
	inner.Foreach(func(k, e *ast.Term) {
		if !k.Equal(drop) {
			kept.Insert(k, e)
		}
	})
	return setIn(obj, kept, path...)
}
