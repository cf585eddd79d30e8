package apiwire

import (
	"time"

	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/status"
)

// StatusResponse is the body of GET /v1/status.
type StatusResponse struct {
	Version       string       `json:"version"`
	StartedAt     time.Time    `json:"startedAt"`
	UptimeSeconds float64      `json:"uptimeSeconds"`
	Store         StoreStatus  `json:"store"`
	Counts        StatusCounts `json:"counts"`
	Roots         []RootStatus `json:"roots"`
	LastPush      *PushStatus  `json:"lastPush,omitempty"`
	// StaleAfterSeconds is the bound after which an unacked proxy is STALE.
	StaleAfterSeconds float64 `json:"staleAfterSeconds"`
	// TrustDomain is the trust domain of the mesh's identities, which a
	// sidecar's bootstrap pins the control plane's SPIFFE ID in; empty
	// without a CA.
	TrustDomain string `json:"trustDomain,omitempty"`
	// XDSAddress is the host:port xDS is served on, as the control plane
	// listens, so bootstraps need not guess it.
	XDSAddress string `json:"xdsAddress,omitempty"`
}

// StoreStatus names the store and its revision.
type StoreStatus struct {
	Kind     string `json:"kind"`
	Revision int64  `json:"revision"`
}

// StatusCounts counts the mesh's main objects.
type StatusCounts struct {
	Services         int `json:"services"`
	Workloads        int `json:"workloads"`
	ConnectedProxies int `json:"connectedProxies"`
	Policies         int `json:"policies"`
}

// RootStatus is one CA root with its time to expiry.
type RootStatus struct {
	identity.RootInfo
	SecondsToExpiry float64 `json:"secondsToExpiry"`
}

// PushStatus is the last push in the status response.
type PushStatus struct {
	Revision        int64     `json:"revision"`
	Time            time.Time `json:"time"`
	DurationSeconds float64   `json:"durationSeconds"`
	Proxies         int       `json:"proxies"`
	// Refused names, per reason the push would not serve some proxies
	// their new set, the proxies (which keep their previous one), each
	// refused Envoy resource with why, and the mesh resources that
	// produced it.
	Refused []events.Refusal `json:"refused,omitempty"`
}

// ProxiesResponse is the body of GET /v1/proxies.
type ProxiesResponse struct {
	Proxies []status.Proxy `json:"proxies"`
	// Continue, when set, fetches the next page as ?continue=.
	Continue string `json:"continue,omitempty"`
	// StaleAfterSeconds is the bound after which an unacked type is STALE.
	StaleAfterSeconds float64 `json:"staleAfterSeconds,omitempty"`
}

// MaxProxiesLimit bounds one page of GET /v1/proxies.
const MaxProxiesLimit = 1000

// Endpoint health values. Without active health checking an endpoint a
// workload registered is "registered"; a static one is "unknown".
const (
	HealthUnknown    = "unknown"
	HealthRegistered = "registered"
)

// ServicesResponse is the body of GET /v1/services.
type ServicesResponse struct {
	Revision int64           `json:"revision"`
	Services []ServiceStatus `json:"services"`
}

// ServiceStatus is one service with its endpoints.
type ServiceStatus struct {
	Name      string                 `json:"name"`
	Namespace string                 `json:"namespace"`
	Ports     []resource.ServicePort `json:"ports"`
	// ServiceAccounts are the identities allowed to serve it: its
	// spec.serviceAccounts, or the default when omitted.
	ServiceAccounts []string         `json:"serviceAccounts"`
	Endpoints       []EndpointStatus `json:"endpoints"`
	// TCPAddress is, for a service with tcp ports, the loopback IP where
	// every Envoy sidecar accepts connections for them: apps connect to
	// TCPAddress:<port>.
	TCPAddress string `json:"tcpAddress,omitempty"`
	// Excluded are the Workloads naming the service that may not serve
	// it: they get none of its traffic.
	Excluded []ExcludedWorkload `json:"excluded,omitempty"`
}

// ExcludedWorkload is a Workload that names a service whose
// serviceAccounts do not allow its own.
type ExcludedWorkload struct {
	Workload       string `json:"workload"`
	Address        string `json:"address"`
	ServiceAccount string `json:"serviceAccount"`
}

// EndpointStatus is one endpoint of a service.
type EndpointStatus struct {
	Address  string            `json:"address"`
	Ports    map[string]uint32 `json:"ports"`
	Labels   map[string]string `json:"labels,omitempty"`
	Locality resource.Locality `json:"locality,omitzero"`
	Workload string            `json:"workload,omitempty"`
	Health   string            `json:"health"`
}

// EventsResponse is the body of GET /v1/events.
type EventsResponse struct {
	Events []events.Event `json:"events"`
}
