package client

import (
	"context"
	"net/http"

	"embassy.dev/embassy/pkg/posture"
)

// Posture returns the control plane's security audit of the mesh.
func (c *Client) Posture(ctx context.Context) (*posture.Report, error) {
	var out posture.Report
	if err := c.do(ctx, http.MethodGet, "/v1/posture", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
