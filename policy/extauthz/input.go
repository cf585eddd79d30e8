package extauthz

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/util"
	"google.golang.org/protobuf/encoding/protojson"
)

// ErrBadRequest marks a CheckRequest that cannot be turned into an input
// document; such a request is denied with 400.
var ErrBadRequest = errors.New("bad request")

// version is input.version, as the OPA-Envoy plugin sets it for v3.
var version = map[string]any{"ext_authz": "v3", "encoding": "protojson"}

// BuildInput turns a CheckRequest into the input document the OPA-Envoy
// plugin gives its policies, so their policies run unchanged:
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
func BuildInput(req *authv3.CheckRequest) (map[string]any, error) {
	raw, err := protojson.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	var input map[string]any
	if err := util.UnmarshalJSON(raw, &input); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if input == nil {
		input = map[string]any{}
	}
	input["version"] = version

	h := req.GetAttributes().GetRequest().GetHttp()
	parsedPath, parsedQuery, err := parsePath(h.GetPath())
	if err != nil {
		return nil, fmt.Errorf("%w: path: %v", ErrBadRequest, err)
	}
	input["parsed_path"] = parsedPath
	input["parsed_query"] = parsedQuery

	body := h.GetBody()
	if body == "" {
		body = string(h.GetRawBody())
	}
	parsedBody, truncated, err := parseBody(h.GetHeaders(), body)
	if err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrBadRequest, err)
	}
	input["parsed_body"] = parsedBody
	input["truncated_body"] = truncated
	return input, nil
}

func parsePath(path string) ([]any, map[string]any, error) {
	u, err := url.Parse(path)
	if err != nil {
		return nil, nil, err
	}
	segs := strings.Split(strings.TrimLeft(u.Path, "/"), "/")
	parsedPath := make([]any, len(segs))
	for i, s := range segs {
		parsedPath[i] = s
	}
	// Like the OPA-Envoy plugin, drop malformed query pairs rather than
	// refuse the request: the raw query stays in attributes for policies
	// that care.
	return parsedPath, lists(u.Query()), nil
}

// parseBody parses the body when its content type says how; a body shorter
// than its content-length is truncated and left unparsed.
func parseBody(headers map[string]string, body string) (any, bool, error) {
	ct := headers["content-type"]
	isJSON := strings.Contains(ct, "application/json")
	isForm := strings.Contains(ct, "application/x-www-form-urlencoded")
	if (!isJSON && !isForm) || body == "" {
		return nil, false, nil
	}
	if cl, ok := headers["content-length"]; ok {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil {
			return nil, false, fmt.Errorf("content-length %q: %v", cl, err)
		}
		if n != -1 && n > int64(len(body)) {
			return nil, true, nil
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
	return v, false, nil
}

func lists(values url.Values) map[string]any {
	out := make(map[string]any, len(values))
	for k, vs := range values {
		list := make([]any, len(vs))
		for i, v := range vs {
			list[i] = v
		}
		out[k] = list
	}
	return out
}
