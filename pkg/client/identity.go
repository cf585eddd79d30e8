package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/identity"
)

// CreateToken makes a join token (admin only). The response holds the
// token itself; it is shown this once.
func (c *Client) CreateToken(ctx context.Context, req apiwire.TokenCreateRequest) (*apiwire.TokenCreateResponse, error) {
	var out apiwire.TokenCreateResponse
	if err := c.do(ctx, http.MethodPost, "/v1/tokens", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Tokens lists the join tokens, without their secrets (admin only).
func (c *Client) Tokens(ctx context.Context) ([]identity.TokenInfo, error) {
	var out apiwire.TokensResponse
	if err := c.do(ctx, http.MethodGet, "/v1/tokens", nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Tokens, nil
}

// RevokeToken revokes a join token by its ID (admin only).
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/tokens/"+url.PathEscape(id), nil, nil, nil)
}

// Certificates returns the latest SVID of every agent and the trust
// bundle's roots.
func (c *Client) Certificates(ctx context.Context) (*apiwire.CertificatesResponse, error) {
	var out apiwire.CertificatesResponse
	if err := c.do(ctx, http.MethodGet, "/v1/certificates", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Bundle returns the trust bundle as PEM roots (format "pem" or "") or as
// the JWT keys' JWKS (format "jwks"), byte for byte as served.
func (c *Client) Bundle(ctx context.Context, format string) ([]byte, error) {
	u := c.server + "/v1/bundle"
	if format != "" {
		u += "?" + url.Values{"format": {format}}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("build request for %s: %w (check --server)", u, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w (is embassy-cp running there? set --server or EMBASSY_SERVER)", u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("read response of GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, errorFrom(resp.StatusCode, data)
	}
	if format == "" || format == "pem" {
		if !strings.Contains(string(data), "-----BEGIN CERTIFICATE-----") {
			return nil, fmt.Errorf("GET %s: the answer holds no PEM certificate", u)
		}
	}
	return data, nil
}
