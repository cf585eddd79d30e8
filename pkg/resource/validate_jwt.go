package resource

import (
	"net/url"

	"embassy.dev/embassy/pkg/jwks"
)

// jwtProviders checks spec.jwtProviders: each has a unique DNS-label name
// and an issuer, and exactly one of an inline JWKS with a usable key or
// an http(s) URL to fetch one from.
func (v *validator) jwtProviders(ps []JWTProvider) {
	names := map[string]int{}
	for i, p := range ps {
		path := index("spec.jwtProviders", i)
		v.dnsLabel(path+".name", p.Name, true)
		if j, dup := names[p.Name]; dup && p.Name != "" {
			v.errorf(path+".name", "duplicate provider name %q (also spec.jwtProviders[%d])", p.Name, j)
		} else {
			names[p.Name] = i
		}
		if p.Issuer == "" {
			v.errorf(path+".issuer", "required: the iss claim of the provider's tokens")
		}
		for k, a := range p.Audiences {
			if a == "" {
				v.errorf(index(path+".audiences", k), "must not be empty")
			}
		}
		hasJWKS := jwks.Present(p.JWKS)
		switch {
		case hasJWKS && p.JWKSURL != "":
			v.errorf(path, "set exactly one of jwks and jwksURL, not both")
		case !hasJWKS && p.JWKSURL == "":
			v.errorf(path, "set exactly one of jwks (the key set inline) and jwksURL (where the control plane fetches it)")
		case hasJWKS:
			v.jwks(path+".jwks", p.JWKS)
		default:
			v.jwksURL(path+".jwksURL", p.JWKSURL)
		}
		if p.FromHeader != "" && (!headerNamePattern.MatchString(p.FromHeader)) {
			v.errorf(path+".fromHeader", "must be an HTTP header name, got %q", p.FromHeader)
		}
	}
}

// jwks checks that an inline key set parses and has a usable key.
func (v *validator) jwks(path string, raw []byte) {
	doc, err := jwks.Document(raw)
	if err == nil {
		_, err = jwks.Parse(doc)
	}
	if err != nil {
		v.errorf(path, "must be a JWKS ({\"keys\": [...]}) with at least one usable signing key: %v", err)
	}
}

// jwksURL checks that the key set's URL is absolute http(s).
func (v *validator) jwksURL(path, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		v.errorf(path, "must be an absolute http(s) URL, got %q", s)
	}
}
