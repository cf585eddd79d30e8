package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/apply"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/status"
)

// Apply sends files as one apply. Every document of every file is stored,
// or, if any is refused, none is; the *Error's Details then name each
// problem.
func (c *Client) Apply(ctx context.Context, files []File, dryRun bool) (*apply.Result, error) {
	var res apply.Result
	err := c.do(ctx, http.MethodPost, "/v1/apply", nil, apiwire.ApplyRequest{Files: files, DryRun: dryRun}, &res)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// Get returns one resource. namespace "" means "default" for namespaced
// kinds; kind may be any form resource.ParseKind accepts.
func (c *Client) Get(ctx context.Context, kind, namespace, name string) (*resource.Resource, error) {
	var r resource.Resource
	if err := c.do(ctx, http.MethodGet, resourcePath(kind, name), nsQuery(namespace), nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// List returns every resource of a kind in namespace (every namespace when
// namespace is ""), and the revision they were read at.
func (c *Client) List(ctx context.Context, kind, namespace string) ([]*resource.Resource, int64, error) {
	var out apiwire.ListResponse
	if err := c.do(ctx, http.MethodGet, resourcePath(kind, ""), nsQuery(namespace), nil, &out); err != nil {
		return nil, 0, err
	}
	return out.Items, out.Revision, nil
}

// Delete removes one resource. The server refuses (409) while other
// resources still refer to it.
func (c *Client) Delete(ctx context.Context, kind, namespace, name string, dryRun bool) (*apply.Result, error) {
	q := nsQuery(namespace)
	if dryRun {
		q.Set("dryRun", strconv.FormatBool(true))
	}
	var res apply.Result
	if err := c.do(ctx, http.MethodDelete, resourcePath(kind, name), q, nil, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Proxies returns the connected proxies and their xDS state.
func (c *Client) Proxies(ctx context.Context) ([]status.Proxy, error) {
	var out apiwire.ProxiesResponse
	if err := c.do(ctx, http.MethodGet, "/v1/proxies", nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Proxies, nil
}

// resourcePath builds /v1/resources/KIND[/NAME] with both segments escaped.
func resourcePath(kind, name string) string {
	p := "/v1/resources/" + url.PathEscape(kind)
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p
}

// nsQuery returns the namespace parameter, or none for "".
func nsQuery(ns string) url.Values {
	q := url.Values{}
	if ns != "" {
		q.Set("namespace", ns)
	}
	return q
}
