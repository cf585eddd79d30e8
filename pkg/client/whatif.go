package client

import (
	"context"
	"net/http"

	"embassy.dev/embassy/pkg/whatif"
)

// Check asks the control plane what the mesh would do with q.
func (c *Client) Check(ctx context.Context, q whatif.Query) (*whatif.Answer, error) {
	var out whatif.Answer
	if err := c.do(ctx, http.MethodPost, "/v1/check", nil, q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
