package client

import (
	"context"
	"net/http"
	"net/url"

	"embassy.dev/embassy/pkg/rollout"
)

// Change reports what became of an applied change (apply's ChangeID).
func (c *Client) Change(ctx context.Context, id string) (*rollout.Change, error) {
	var out rollout.Change
	if err := c.do(ctx, http.MethodGet, "/v1/changes/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
