package engine

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"

	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
)

// Decision is what a policy decided about one request. A policy's result
// is either a boolean or an object with a boolean "allowed" and, optionally,
// the OPA-Envoy plugin's fields: headers, response_headers_to_add,
// request_headers_to_remove, query_parameters_to_remove,
// query_parameters_to_set, body, http_status (or status_code) and
// dynamic_metadata; a string "reason" is kept for the decision log.
type Decision struct {
	// Policy and Revision name the one bundle revision that decided.
	Policy   string
	Revision string
	// Allowed is the verdict as enforce mode applies it, failure mode
	// included. In dry-run it is what enforce would have done; whether the
	// request passes is Permitted.
	Allowed bool
	// DryRun is set when the policy only observes.
	DryRun bool
	// Failed is set when evaluation failed or its result was undefined or
	// malformed; Allowed then follows the failure mode, and no field of a
	// partial result is kept.
	Failed bool
	// Reason says why, for logs and status.
	Reason string
	// Boolean is set when the policy's result was a plain boolean: the
	// OPA-Envoy plugin then answers with the status alone, and so do we.
	Boolean bool

	// Headers go to the upstream on allow and to the client on deny.
	Headers []Header
	// ResponseHeadersToAdd go to the client with the upstream's response.
	ResponseHeadersToAdd []Header
	// RequestHeadersToRemove are removed before the request goes upstream.
	RequestHeadersToRemove []string
	// QueryParametersToRemove and QueryParametersToSet edit the upstream
	// request's query string.
	QueryParametersToRemove []string
	QueryParametersToSet    []Header
	// Body and HTTPStatus make up the denied response; HTTPStatus is 403
	// unless the policy chose another.
	Body       string
	HTTPStatus int
	// DynamicMetadata is handed to Envoy's other filters and access logs.
	DynamicMetadata map[string]any
}

// Header is one header or query parameter.
type Header struct {
	Key, Value string
}

// Outcomes, as logged and counted.
const (
	OutcomeAllow     = "allow"
	OutcomeDeny      = "deny"
	OutcomeWouldDeny = "would-deny"
	OutcomeError     = "error"
)

// Permitted reports whether the request goes through: allowed, or denied
// only in dry-run.
func (d Decision) Permitted() bool { return d.Allowed || d.DryRun }

// Outcome is error, allow, deny, or would-deny (a dry-run deny).
func (d Decision) Outcome() string {
	switch {
	case d.Failed:
		return OutcomeError
	case d.Allowed:
		return OutcomeAllow
	case d.DryRun:
		return OutcomeWouldDeny
	}
	return OutcomeDeny
}

// fill reads a policy's result.
func (d *Decision) fill(v any, query string) error {
	switch r := v.(type) {
	case bool:
		d.Allowed, d.Boolean = r, true
		d.Reason = fmt.Sprintf("%s is %t", query, r)
	case map[string]any:
		return d.fillObject(r, query)
	default:
		return fmt.Errorf("%s is %s, want a boolean or an object with \"allowed\"", query, typeName(v))
	}
	if !d.Allowed {
		d.HTTPStatus = http.StatusForbidden
	}
	return nil
}

func (d *Decision) fillObject(r map[string]any, query string) error {
	raw, ok := r["allowed"]
	if !ok {
		return fmt.Errorf("%s has no \"allowed\" key", query)
	}
	if d.Allowed, ok = raw.(bool); !ok {
		return fmt.Errorf("%s: \"allowed\" is %s, want a boolean", query, typeName(raw))
	}
	d.Reason = fmt.Sprintf("%s.allowed is %t", query, d.Allowed)
	if s, ok := r["reason"].(string); ok && s != "" {
		d.Reason = s
	}
	var err error
	field := func(name string, read func(any) error) {
		if v, ok := r[name]; ok && err == nil {
			if e := read(v); e != nil {
				err = fmt.Errorf("%s: %q: %v", query, name, e)
			}
		}
	}
	field("headers", func(v any) (e error) { d.Headers, e = headers(v); return })
	field("response_headers_to_add", func(v any) (e error) { d.ResponseHeadersToAdd, e = headers(v); return })
	field("request_headers_to_remove", func(v any) (e error) { d.RequestHeadersToRemove, e = stringList(v); return })
	field("query_parameters_to_remove", func(v any) (e error) { d.QueryParametersToRemove, e = stringList(v); return })
	field("query_parameters_to_set", func(v any) (e error) { d.QueryParametersToSet, e = headers(v); return })
	field("body", func(v any) error {
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("is %s, want a string", typeName(v))
		}
		d.Body = s
		return nil
	})
	field("dynamic_metadata", func(v any) error {
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("is %s, want an object", typeName(v))
		}
		d.DynamicMetadata = m
		return nil
	})
	if !d.Allowed {
		d.HTTPStatus = http.StatusForbidden
		field("status_code", func(v any) (e error) { d.HTTPStatus, e = status(v); return })
		field("http_status", func(v any) (e error) { d.HTTPStatus, e = status(v); return })
	}
	return err
}

// fail replaces whatever was read with the failure mode's verdict.
func (d *Decision) fail(err error, allowOnFailure bool) {
	*d = Decision{
		Policy:   d.Policy,
		Revision: d.Revision,
		DryRun:   d.DryRun,
		Failed:   true,
		Allowed:  allowOnFailure,
		Reason:   err.Error(),
	}
	if allowOnFailure {
		d.Reason += " (failure mode allow)"
	} else {
		d.HTTPStatus = http.StatusForbidden
	}
}

// headers reads an object of name to string (or list of strings), or a
// list of such objects; keys are sorted so responses are deterministic.
func headers(v any) ([]Header, error) {
	var objs []map[string]any
	switch h := v.(type) {
	case map[string]any:
		objs = []map[string]any{h}
	case []any:
		for _, item := range h {
			m, ok := item.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("list item is %s, want an object", typeName(item))
			}
			objs = append(objs, m)
		}
	default:
		return nil, fmt.Errorf("is %s, want an object", typeName(v))
	}
	var out []Header
	for _, m := range objs {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			switch val := m[k].(type) {
			case []any:
				for _, item := range val {
					s, ok := scalar(item)
					if !ok {
						return nil, fmt.Errorf("value of %q holds %s, want strings", k, typeName(item))
					}
					out = append(out, Header{k, s})
				}
			default:
				s, ok := scalar(val)
				if !ok {
					return nil, fmt.Errorf("value of %q is %s, want a string", k, typeName(val))
				}
				out = append(out, Header{k, s})
			}
		}
	}
	return out, nil
}

// scalar formats strings, numbers and booleans as header values.
func scalar(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case json.Number:
		return s.String(), true
	case bool:
		return fmt.Sprint(s), true
	}
	return "", false
}

func stringList(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("is %s, want a list of strings", typeName(v))
	}
	out := make([]string, len(list))
	for i, item := range list {
		if out[i], ok = item.(string); !ok {
			return nil, fmt.Errorf("holds %s, want strings", typeName(item))
		}
	}
	return out, nil
}

// status accepts the HTTP codes Envoy's HttpStatus can carry.
func status(v any) (int, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("is %s, want a number", typeName(v))
	}
	code, err := n.Int64()
	if err != nil {
		return 0, fmt.Errorf("%s is not an integer", n)
	}
	if _, ok := typev3.StatusCode_name[int32(code)]; !ok || code == 0 || code != int64(int32(code)) {
		return 0, fmt.Errorf("%d is not an HTTP status Envoy can send", code)
	}
	return int(code), nil
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
