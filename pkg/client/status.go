package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/status"
)

// Status returns the control plane's status.
func (c *Client) Status(ctx context.Context) (*apiwire.StatusResponse, error) {
	var out apiwire.StatusResponse
	if err := c.do(ctx, http.MethodGet, "/v1/status", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ProxyFilter narrows ListProxies; empty fields do not filter.
type ProxyFilter struct {
	// Service lists proxies whose workload backs it (name or name.namespace).
	Service string
	// State lists proxies with a type in that sync state.
	State string
}

// ListProxies returns every connected proxy that passes f, with the
// server's sync states, following the pages to the end.
func (c *Client) ListProxies(ctx context.Context, f ProxyFilter) ([]status.Proxy, error) {
	var all []status.Proxy
	cont := ""
	for {
		q := url.Values{}
		if f.Service != "" {
			q.Set("service", f.Service)
		}
		if f.State != "" {
			q.Set("state", f.State)
		}
		q.Set("limit", strconv.Itoa(apiwire.MaxProxiesLimit))
		if cont != "" {
			q.Set("continue", cont)
		}
		var out apiwire.ProxiesResponse
		if err := c.do(ctx, http.MethodGet, "/v1/proxies", q, nil, &out); err != nil {
			return nil, err
		}
		all = append(all, out.Proxies...)
		if cont = out.Continue; cont == "" {
			return all, nil
		}
	}
}

// Services returns the mesh's services with their endpoints.
func (c *Client) Services(ctx context.Context) (*apiwire.ServicesResponse, error) {
	var out apiwire.ServicesResponse
	if err := c.do(ctx, http.MethodGet, "/v1/services", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Events returns up to limit recent events (0: every one kept).
func (c *Client) Events(ctx context.Context, limit int) ([]events.Event, error) {
	var out apiwire.EventsResponse
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if err := c.do(ctx, http.MethodGet, "/v1/events", q, nil, &out); err != nil {
		return nil, err
	}
	return out.Events, nil
}

// FollowEvents calls fn with each event published from now on, until ctx
// ends (nil is then returned), the server closes the stream, or fn
// returns an error.
func (c *Client) FollowEvents(ctx context.Context, fn func(events.Event) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.server+"/v1/events?follow=true", nil)
	if err != nil {
		return fmt.Errorf("build request: %w (check --server)", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.doUnbounded(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("GET %s/v1/events: %w (is embassy-cp running there? set --server or EMBASSY_SERVER)", c.server, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var buf strings.Builder
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			buf.WriteString(sc.Text())
		}
		return errorFrom(resp.StatusCode, []byte(buf.String()))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var e events.Event
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			return fmt.Errorf("decode event %q: %w", data, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}

// ProxyConfig returns what the control plane sent the proxy, as the API
// serves it: Envoy's config dump ("configs") and, per type URL, the diff
// from what the proxy last acked ("diff").
func (c *Client) ProxyConfig(ctx context.Context, id string) (json.RawMessage, error) {
	var out json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/v1/proxies/"+url.PathEscape(id)+"/config", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}
