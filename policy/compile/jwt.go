package compile

import (
	"bytes"
	"encoding/json"
	"fmt"

	"embassy.dev/embassy/pkg/jwks"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/jwt"
)

// jwtProviders turns the spec's providers into the bundle's, each key set
// compacted so equal keys hash to one revision. A provider naming only a
// URL whose keys the control plane has not filled in yet (as at apply)
// gets an empty key set: its tokens are refused until the keys arrive.
func jwtProviders(ps []resource.JWTProvider) ([]jwt.Provider, Errors) {
	var (
		out  []jwt.Provider
		errs Errors
	)
	for i, p := range ps {
		jp := jwt.Provider{
			Name:       p.Name,
			Issuer:     p.Issuer,
			Audiences:  append([]string(nil), p.Audiences...),
			JWKSURL:    p.JWKSURL,
			FromHeader: p.FromHeader,
			Forward:    p.Forward,
		}
		if jp.FromHeader == jwt.DefaultHeader {
			jp.FromHeader = ""
		}
		if jwks.Present(p.JWKS) {
			doc, err := jwks.Document(p.JWKS)
			var compact bytes.Buffer
			if err == nil {
				err = json.Compact(&compact, doc)
			}
			if err != nil {
				errs = append(errs, &Error{File: fmt.Sprintf("jwtProviders[%d].jwks", i), Code: CodeSpec, Message: err.Error()})
				continue
			}
			jp.JWKS = compact.String()
		} else if p.JWKSURL == "" {
			errs = append(errs, &Error{File: fmt.Sprintf("jwtProviders[%d]", i), Code: CodeSpec, Message: "provider has neither jwks nor jwksURL"})
			continue
		}
		out = append(out, jp)
	}
	return out, errs
}

// verifier parses the providers' key sets; nil without providers.
func verifier(ps []jwt.Provider) (*jwt.Verifier, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	return jwt.NewVerifier(ps)
}
