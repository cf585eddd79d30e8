package extauthz

import (
	"encoding/base64"
	"errors"
	"strconv"
	"unicode/utf8"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/ast"
)

// The HTTP request's field names in protojson, made once.
var (
	keyID        = ast.StringTerm("id")
	keyMethod    = ast.StringTerm("method")
	keyHeaders   = ast.StringTerm("headers")
	keyHeaderMap = ast.StringTerm("headerMap")
	keyPath      = ast.StringTerm("path")
	keyHost      = ast.StringTerm("host")
	keyScheme    = ast.StringTerm("scheme")
	keyQuery     = ast.StringTerm("query")
	keyFragment  = ast.StringTerm("fragment")
	keySize      = ast.StringTerm("size")
	keyProtocol  = ast.StringTerm("protocol")
	keyBody      = ast.StringTerm("body")
	keyRawBody   = ast.StringTerm("rawBody")
)

var errNotUTF8 = errors.New("string field is not valid UTF-8")

// httpRequestValue is protoValue of the HTTP request, read from its Go
// fields rather than through reflection: it is most of every input, and
// its headers most of it. Unset fields are left out, as protojson leaves
// them.
func httpRequestValue(h *authv3.AttributeContext_HttpRequest) (ast.Value, error) {
	obj := ast.NewObjectWithCapacity(8)
	for _, f := range [...]struct {
		key *ast.Term
		val string
	}{
		{keyID, h.Id}, {keyMethod, h.Method}, {keyPath, h.Path}, {keyHost, h.Host},
		{keyScheme, h.Scheme}, {keyQuery, h.Query}, {keyFragment, h.Fragment},
		{keyProtocol, h.Protocol}, {keyBody, h.Body},
	} {
		if f.val == "" {
			continue
		}
		if !utf8.ValidString(f.val) {
			return nil, errNotUTF8
		}
		obj.Insert(f.key, ast.StringTerm(f.val))
	}
	if len(h.Headers) > 0 {
		hs := ast.NewObjectWithCapacity(len(h.Headers))
		for k, v := range h.Headers {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, errNotUTF8
			}
			hs.Insert(ast.StringTerm(k), ast.StringTerm(v))
		}
		obj.Insert(keyHeaders, ast.NewTerm(hs))
	}
	if h.HeaderMap != nil {
		hm, err := protoValue(h.HeaderMap.ProtoReflect())
		if err != nil {
			return nil, err
		}
		obj.Insert(keyHeaderMap, ast.NewTerm(hm))
	}
	if h.Size != 0 {
		obj.Insert(keySize, ast.StringTerm(strconv.FormatInt(h.Size, 10)))
	}
	if len(h.RawBody) > 0 {
		obj.Insert(keyRawBody, ast.StringTerm(base64.StdEncoding.EncodeToString(h.RawBody)))
	}
	return obj, nil
}
