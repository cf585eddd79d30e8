package api

import (
	"context"
	"net/http"
	"time"

	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// Version is the control plane's version, set at build time with
// -ldflags "-X embassy.dev/embassy/pkg/api.Version=v1.2.3".
var Version = "dev"

// PushInfo describes the last push of mesh configuration to proxies.
type PushInfo struct {
	Revision int64         `json:"revision"`
	Time     time.Time     `json:"time"`
	Duration time.Duration `json:"-"`
	Proxies  int           `json:"proxies"`
	// Refused are the sets the push would not serve, one per reason.
	Refused []events.Refusal `json:"refused,omitempty"`
}

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

// status reports the control plane's version, uptime, store, counts, CA
// roots and last push.
func (s *server) status(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	snap, err := s.meshSnapshot(r.Context())
	if err != nil {
		s.internal(w, "read the mesh", err)
		return
	}
	out := StatusResponse{
		Version:           Version,
		StartedAt:         s.o.StartedAt,
		UptimeSeconds:     now.Sub(s.o.StartedAt).Seconds(),
		Counts:            StatusCounts{Services: len(snap.Services), Workloads: len(snap.Workloads), Policies: len(snap.AuthorizationPolicies)},
		Roots:             []RootStatus{},
		StaleAfterSeconds: s.o.StaleAfter.Seconds(),
		XDSAddress:        s.o.XDSAddress,
	}
	if s.o.Bundle != nil {
		out.TrustDomain = s.o.Bundle.TrustDomain().Name()
	}
	if s.o.Store != nil {
		out.Store = StoreStatus{Kind: s.o.Store.Kind(), Revision: s.o.Store.Revision()}
	}
	if s.o.Proxies != nil {
		out.Counts.ConnectedProxies = len(s.o.Proxies.Proxies())
	}
	for _, ri := range s.roots() {
		out.Roots = append(out.Roots, RootStatus{RootInfo: ri, SecondsToExpiry: ri.NotAfter.Sub(now).Seconds()})
	}
	if s.o.LastPush != nil {
		if p, ok := s.o.LastPush(); ok {
			out.LastPush = &PushStatus{Revision: p.Revision, Time: p.Time, DurationSeconds: p.Duration.Seconds(), Proxies: p.Proxies, Refused: p.Refused}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// roots lists the CA roots, from Roots or else the trust bundle.
func (s *server) roots() []identity.RootInfo {
	switch {
	case s.o.Roots != nil:
		return s.o.Roots()
	case s.o.Bundle != nil:
		return s.o.Bundle.Roots()
	}
	return nil
}

// meshSnapshot is the current mesh: the control plane's snapshot, or one
// built from the store when the handler has none.
func (s *server) meshSnapshot(ctx context.Context) (*mesh.Snapshot, error) {
	if s.o.Mesh != nil {
		if m := s.o.Mesh(); m != nil {
			return m, nil
		}
	}
	if s.o.Store == nil {
		return mesh.New(0, nil), nil
	}
	rs, rev, err := s.o.Store.List(ctx, resource.Kind(""))
	if err != nil {
		return nil, err
	}
	return mesh.New(rev, rs), nil
}
