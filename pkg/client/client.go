// Package client is a small Go client for Embassy's HTTP API, used by
// embassyctl and by end-to-end tests.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"embassy.dev/embassy/pkg/apiwire"
)

// File is one YAML file to apply; Name is what errors call it.
type File = apiwire.File

// Client talks to one control plane. It is safe for concurrent use.
type Client struct {
	server string
	token  string
	http   *http.Client
}

// New returns a client for the API at server (like http://127.0.0.1:15000)
// that sends token, when not empty, as the bearer token.
func New(server, token string) *Client {
	return &Client{
		server: strings.TrimRight(server, "/"),
		token:  token,
		http:   &http.Client{Timeout: 60 * time.Second},
	}
}

// WithHTTPClient returns a copy of c that sends requests with hc, for TLS
// settings or tests.
func (c *Client) WithHTTPClient(hc *http.Client) *Client {
	cp := *c
	cp.http = hc
	return &cp
}

// do sends a request with an optional JSON body and decodes a JSON answer
// into out (when not nil). A non-2xx answer becomes an *Error.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u := c.server + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s request: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("build request for %s: %w (check --server)", u, err)
	}
	// The API refuses any write that is not JSON, even a body-less one,
	// so that no web page can send it one.
	if body != nil || method != http.MethodGet {
		req.Header.Set("Content-Type", apiwire.JSONContentType)
	}
	req.Header.Set("Accept", "application/json")
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w (is embassy-cp running there? set --server or EMBASSY_SERVER)", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read response of %s %s: %w", method, u, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errorFrom(resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode response of %s %s: %w", method, u, err)
	}
	return nil
}

// authorize adds the client's token, when it has one, to req.
func (c *Client) authorize(req *http.Request) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
}

// doUnbounded sends req with the client's token and without the client's
// timeout: the caller reads a body that lasts as long as ctx allows (a
// backup, a followed stream).
func (c *Client) doUnbounded(req *http.Request) (*http.Response, error) {
	c.authorize(req)
	hc := *c.http
	hc.Timeout = 0
	return hc.Do(req)
}

// errorFrom builds the *Error for a failed response, keeping the server's
// message when the body is the API's JSON error.
func errorFrom(code int, data []byte) error {
	var er apiwire.ErrorResponse
	if err := json.Unmarshal(data, &er); err == nil && er.Error != "" {
		return &Error{StatusCode: code, Message: er.Error, Details: er.Details}
	}
	msg := strings.TrimSpace(string(data))
	if msg == "" {
		msg = http.StatusText(code)
	}
	return &Error{StatusCode: code, Message: msg}
}

// IsNotFound reports whether err is the server saying 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}
