package rbac

import (
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// kind is a request attribute RBAC can match, as the OPA-Envoy input
// document names it (protojson, lowerCamelCase).
type kind int

const (
	kindHeader      kind = iota // a request header, pseudo-headers included
	kindPrincipal               // the peer certificate's identity
	kindSourceIP                // the downstream connection's remote address
	kindDestIP                  // the address the connection arrived on
	kindDestPort                // the port the connection arrived on
	kindSNI                     // the TLS server name the client asked for
	kindParsedPath              // input.parsed_path, the whole list
	kindPathSegment             // input.parsed_path[i]
)

// field is one attribute an expression reads.
type field struct {
	kind    kind
	header  string // kindHeader: the header name Envoy matches
	segment int    // kindPathSegment: the index
	ref     string // as the policy wrote it, for reasons
}

// side says which half of an RBAC policy can hold a matcher on the field:
// ports and SNI exist only as permissions, identities and source
// addresses only as principals, headers and paths as either.
func (f field) side() side {
	switch f.kind {
	case kindDestIP, kindDestPort, kindSNI:
		return sidePermission
	case kindPrincipal, kindSourceIP:
		return sidePrincipal
	}
	return sideEither
}

// httpFields are the input.attributes.request.http members that are a
// header to Envoy. The path is the :path header, query string included,
// which is what ext_authz sends as http.path.
var httpFields = map[string]string{
	"method": ":method",
	"path":   ":path",
	"host":   ":authority",
}

// fixedFields are the other attributes, by their path under input.
var fixedFields = map[string]kind{
	"attributes.source.principal":                            kindPrincipal,
	"attributes.source.address.socketAddress.address":        kindSourceIP,
	"attributes.destination.address.socketAddress.address":   kindDestIP,
	"attributes.destination.address.socketAddress.portValue": kindDestPort,
	"attributes.tlsSession.sni":                              kindSNI,
}

// fieldOf reads t as a reference to an attribute RBAC can match. When it
// is not one, why says so in words a policy author can act on.
func fieldOf(t *ast.Term) (f field, why string, ok bool) {
	ref, isRef := t.Value.(ast.Ref)
	if !isRef || !ref.HasPrefix(ast.InputRootRef) {
		return field{}, "", false
	}
	f.ref = ref.String()
	path := make([]string, 0, len(ref)-1)
	for i, p := range ref[1:] {
		s, isStr := p.Value.(ast.String)
		if !isStr {
			if n, isNum := p.Value.(ast.Number); isNum && i == 1 && len(ref) == 3 && len(path) == 1 && path[0] == "parsed_path" {
				idx, isInt := n.Int()
				if isInt && idx >= 0 {
					return field{kind: kindPathSegment, segment: idx, ref: f.ref}, "", true
				}
			}
			return field{}, fmt.Sprintf("%s is looked up with a key only known per request, which RBAC cannot express", f.ref), false
		}
		path = append(path, string(s))
	}
	joined := strings.Join(path, ".")
	if k, found := fixedFields[joined]; found {
		f.kind = k
		return f, "", true
	}
	switch {
	case joined == "parsed_path":
		f.kind = kindParsedPath
		return f, "", true
	case len(path) == 4 && strings.Join(path[:3], ".") == "attributes.request.http" && httpFields[path[3]] != "":
		f.kind, f.header = kindHeader, httpFields[path[3]]
		return f, "", true
	case len(path) == 5 && strings.Join(path[:4], ".") == "attributes.request.http.headers":
		name := path[4]
		if name == "" || strings.ToLower(name) != name {
			return field{}, fmt.Sprintf("header name %q is not lower case; Envoy sends header names in lower case, so the lookup never matches", name), false
		}
		f.kind, f.header = kindHeader, name
		return f, "", true
	}
	return field{}, unsupportedWhy(f.ref, path), false
}

// unsupportedWhy explains why an input path has no RBAC matcher.
func unsupportedWhy(ref string, path []string) string {
	first := ""
	if len(path) > 0 {
		first = path[0]
	}
	switch {
	case first == "parsed_body" || first == "truncated_body" ||
		len(path) >= 4 && strings.Join(path[:3], ".") == "attributes.request.http" && (path[3] == "body" || path[3] == "rawBody"):
		return fmt.Sprintf("%s reads the request body, which Envoy's RBAC filter never sees", ref)
	case first == "parsed_query":
		return fmt.Sprintf("%s reads a query parameter; RBAC matches only the whole :path, not decoded parameters", ref)
	}
	return fmt.Sprintf("%s is not an attribute RBAC can match (it matches principals, paths, methods, headers, source and destination addresses, destination ports and SNI)", ref)
}
