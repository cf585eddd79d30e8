package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"embassy.dev/embassy/pkg/apiwire"
)

// Policies lists the AuthorizationPolicies with their compiled state, in
// namespace (every namespace when "").
func (c *Client) Policies(ctx context.Context, namespace string) (*apiwire.PoliciesResponse, error) {
	var out apiwire.PoliciesResponse
	var q url.Values
	if namespace != "" {
		q = url.Values{"namespace": {namespace}}
	}
	if err := c.do(ctx, http.MethodGet, "/v1/policies", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// EvalPolicy evaluates the stored policy namespace/name on input, a JSON
// document shaped like the ext_authz CheckRequest. It needs the admin token.
func (c *Client) EvalPolicy(ctx context.Context, namespace, name string, input json.RawMessage) (*apiwire.EvalResponse, error) {
	var out apiwire.EvalResponse
	if err := c.do(ctx, http.MethodPost, policyPath(namespace, name, "eval"), nil, apiwire.EvalRequest{Input: input}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ExplainPolicy says how the stored policy namespace/name is enforced.
func (c *Client) ExplainPolicy(ctx context.Context, namespace, name string) (*apiwire.ExplainResponse, error) {
	var out apiwire.ExplainResponse
	if err := c.do(ctx, http.MethodGet, policyPath(namespace, name, "explain"), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func policyPath(namespace, name, action string) string {
	if namespace == "" {
		namespace = "default"
	}
	return "/v1/policies/" + url.PathEscape(namespace) + "/" + url.PathEscape(name) + "/" + action
}
