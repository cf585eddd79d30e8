package api

import "embassy.dev/embassy/pkg/status"

// ProxiesResponse is the body of GET /v1/proxies.
type ProxiesResponse struct {
	Proxies []status.Proxy `json:"proxies"`
	// Continue, when set, fetches the next page as ?continue=.
	Continue string `json:"continue,omitempty"`
	// StaleAfterSeconds is the bound after which an unacked type is STALE.
	StaleAfterSeconds float64 `json:"staleAfterSeconds,omitempty"`
}
