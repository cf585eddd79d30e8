// Package status holds the plain types the status API reports about
// connected proxies. The xDS server fills them; the HTTP API serves them.
package status

import "time"

// Proxy is what the control plane knows about one connected proxy.
type Proxy struct {
	// ID is the node id the proxy sent.
	ID string `json:"id"`
	// Flavour is "envoy" or "proxyless".
	Flavour string `json:"flavour"`
	// XDS is "sotw" or "delta".
	XDS            string    `json:"xds"`
	ConnectedSince time.Time `json:"connectedSince"`
	// Identity is the SPIFFE ID of the stream's client certificate, empty
	// for plaintext xDS.
	Identity string `json:"identity,omitempty"`
	// Workload and Namespace come from a "<workload>.<namespace>" node id.
	Workload  string `json:"workload,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	// SyncState is the worst of the types' states; the status API fills it.
	SyncState string `json:"syncState,omitempty"`
	// Types holds one entry per xDS type URL the proxy asked for.
	Types map[string]TypeStatus `json:"types"`
}

// TypeStatus is the state of one xDS type on one proxy.
type TypeStatus struct {
	VersionSent  string    `json:"versionSent,omitempty"`
	SentAt       time.Time `json:"sentAt,omitempty"`
	VersionAcked string    `json:"versionAcked,omitempty"`
	AckedAt      time.Time `json:"ackedAt,omitempty"`
	NackCount    int       `json:"nackCount"`
	LastNack     *Nack     `json:"lastNack,omitempty"`
	// TimeToAckSeconds is how long the last acked version took to be acked.
	TimeToAckSeconds float64 `json:"timeToAckSeconds,omitempty"`
	// SyncState is one of the Sync* constants; the status API fills it.
	SyncState string `json:"syncState,omitempty"`
}

// Nack is a rejected response as the proxy reported it.
type Nack struct {
	Version string    `json:"version"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
}

// Registry answers which proxies are connected. Implementations must be
// safe for concurrent use; returned values are copies.
type Registry interface {
	Proxies() []Proxy
}
