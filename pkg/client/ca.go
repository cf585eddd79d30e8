package client

import (
	"context"
	"net/http"

	"embassy.dev/embassy/pkg/apiwire"
)

// RotateCA publishes a new root of the mesh CA (admin only) and returns
// the bundle's roots after it, the new one last. A CA that cannot rotate
// itself answers 409 with what to do instead.
func (c *Client) RotateCA(ctx context.Context) (*apiwire.CARootsResponse, error) {
	var out apiwire.CARootsResponse
	if err := c.do(ctx, http.MethodPost, "/v1/ca/rotate", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CARoots returns the trust domain and the bundle's roots with their
// rotation state, oldest first.
func (c *Client) CARoots(ctx context.Context) (*apiwire.CARootsResponse, error) {
	var out apiwire.CARootsResponse
	if err := c.do(ctx, http.MethodGet, "/v1/ca/roots", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
