package extauthz

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"
)

// ErrBadRequest marks a CheckRequest that cannot be turned into an input
// document; such a request is denied with 400.
var ErrBadRequest = errors.New("bad request")

// version is input.version, as the OPA-Envoy plugin sets it for v3.
var version = ast.NewTerm(ast.NewObject(
	[2]*ast.Term{ast.StringTerm("ext_authz"), ast.StringTerm("v3")},
	[2]*ast.Term{ast.StringTerm("encoding"), ast.StringTerm("protojson")},
))

// Input keys, as the OPA-Envoy plugin names them.
var (
	keyAttributes    = ast.StringTerm("attributes")
	keyParsedPath    = ast.StringTerm("parsed_path")
	keyParsedQuery   = ast.StringTerm("parsed_query")
	keyParsedBody    = ast.StringTerm("parsed_body")
	keyTruncatedBody = ast.StringTerm("truncated_body")
	keyVersion       = ast.StringTerm("version")
)

// InputValue turns a CheckRequest into the input document the OPA-Envoy
// plugin gives its policies, so their policies run unchanged, built
// directly as the value OPA evaluates:
//
//   - attributes: the request's attributes in protojson form (lowerCamelCase
//     field names, so input.attributes.source.principal and
//     input.attributes.request.http.headers["x-request-id"]);
//   - parsed_path: the path's segments, without the leading slash;
//   - parsed_query: each query parameter's list of values;
//   - parsed_body: a JSON body (content-type application/json) or a form
//     (application/x-www-form-urlencoded, as lists of values), else null;
//   - truncated_body: whether Envoy sent less body than content-length;
//   - version: {"ext_authz": "v3", "encoding": "protojson"}.
//
// An error wraps ErrBadRequest.
func InputValue(req *authv3.CheckRequest) (ast.Object, error) {
	attrs, err := protoValue(req.ProtoReflect())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	input := attrs.(ast.Object)
	h := req.GetAttributes().GetRequest().GetHttp()
	parsedPath, parsedQuery, err := parsePath(h.GetPath())
	if err != nil {
		return nil, fmt.Errorf("%w: path: %v", ErrBadRequest, err)
	}
	body := h.GetBody()
	if body == "" {
		body = string(h.GetRawBody())
	}
	parsedBody, truncated, err := parseBody(h.GetHeaders(), body)
	if err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrBadRequest, err)
	}
	input.Insert(keyParsedPath, ast.NewTerm(parsedPath))
	input.Insert(keyParsedQuery, ast.NewTerm(parsedQuery))
	input.Insert(keyParsedBody, ast.NewTerm(parsedBody))
	input.Insert(keyTruncatedBody, ast.InternedTerm(truncated))
	input.Insert(keyVersion, version)
	return input, nil
}

// BuildInput is InputValue as a JSON document (numbers as json.Number),
// for callers that hand the input to something other than the engine.
func BuildInput(req *authv3.CheckRequest) (map[string]any, error) {
	v, err := InputValue(req)
	if err != nil {
		return nil, err
	}
	doc, err := ast.JSON(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return doc.(map[string]any), nil
}

func parsePath(path string) (ast.Value, ast.Value, error) {
	u, err := url.Parse(path)
	if err != nil {
		return nil, nil, err
	}
	segs := strings.Split(strings.TrimLeft(u.Path, "/"), "/")
	parsedPath := make([]*ast.Term, len(segs))
	for i, s := range segs {
		parsedPath[i] = ast.StringTerm(s)
	}
	// Like the OPA-Envoy plugin, drop malformed query pairs rather than
	// refuse the request: the raw query stays in attributes for policies
	// that care.
	return ast.NewArray(parsedPath...), lists(u.Query()), nil
}

// parseBody parses the body when its content type says how; a body shorter
// than its content-length is truncated and left unparsed.
func parseBody(headers map[string]string, body string) (ast.Value, bool, error) {
	ct := headers["content-type"]
	isJSON := strings.Contains(ct, "application/json")
	isForm := strings.Contains(ct, "application/x-www-form-urlencoded")
	if (!isJSON && !isForm) || body == "" {
		return ast.Null{}, false, nil
	}
	if cl, ok := headers["content-length"]; ok {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil {
			return nil, false, fmt.Errorf("content-length %q: %v", cl, err)
		}
		if n != -1 && n > int64(len(body)) {
			return ast.Null{}, true, nil
		}
	}
	if isForm {
		form, err := url.ParseQuery(body)
		if err != nil {
			return nil, false, err
		}
		return lists(form), false, nil
	}
	var v any
	if err := util.UnmarshalJSON([]byte(body), &v); err != nil {
		return nil, false, err
	}
	parsed, err := ast.InterfaceToValue(v)
	return parsed, false, err
}

func lists(values url.Values) ast.Object {
	out := ast.NewObjectWithCapacity(len(values))
	for k, vs := range values {
		list := make([]*ast.Term, len(vs))
		for i, v := range vs {
			list[i] = ast.StringTerm(v)
		}
		out.Insert(ast.StringTerm(k), ast.ArrayTerm(list...))
	}
	return out
}
