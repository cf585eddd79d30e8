package api

import (
	"context"
	"net/http"
	"time"

	"embassy.dev/embassy/pkg/apiwire"
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

// status reports the control plane's version, uptime, store, counts, CA
// roots and last push.
func (s *server) status(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	snap, err := s.meshSnapshot(r.Context())
	if err != nil {
		s.internal(w, "read the mesh", err)
		return
	}
	out := apiwire.StatusResponse{
		Version:           Version,
		StartedAt:         s.o.StartedAt,
		UptimeSeconds:     now.Sub(s.o.StartedAt).Seconds(),
		Counts:            apiwire.StatusCounts{Services: len(snap.Services), Workloads: len(snap.Workloads), Policies: len(snap.AuthorizationPolicies)},
		Roots:             []apiwire.RootStatus{},
		StaleAfterSeconds: s.o.StaleAfter.Seconds(),
		XDSAddress:        s.o.XDSAddress,
	}
	if s.o.Bundle != nil {
		out.TrustDomain = s.o.Bundle.TrustDomain().Name()
	}
	if s.o.Store != nil {
		out.Store = apiwire.StoreStatus{Kind: s.o.Store.Kind(), Revision: s.o.Store.Revision()}
	}
	if s.o.Proxies != nil {
		out.Counts.ConnectedProxies = len(s.o.Proxies.Proxies())
	}
	for _, ri := range s.roots() {
		out.Roots = append(out.Roots, apiwire.RootStatus{RootInfo: ri, SecondsToExpiry: ri.NotAfter.Sub(now).Seconds()})
	}
	if s.o.LastPush != nil {
		if p, ok := s.o.LastPush(); ok {
			out.LastPush = &apiwire.PushStatus{Revision: p.Revision, Time: p.Time, DurationSeconds: p.Duration.Seconds(), Proxies: p.Proxies, Refused: p.Refused}
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
		if m := s.currentMesh(ctx); m != nil {
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

// snapshotCatchUp bounds how long a read waits for the control plane's
// snapshot to reach the store's revision.
const snapshotCatchUp = 2 * time.Second

// currentMesh returns the control plane's snapshot once it has caught up
// with the store, so that a check or a describe right after an apply
// answers for what was applied (the snapshot is rebuilt asynchronously,
// after a debounce). It waits at most snapshotCatchUp, then answers with
// the snapshot it has.
func (s *server) currentMesh(ctx context.Context) *mesh.Snapshot {
	m := s.o.Mesh()
	if m == nil || s.o.Store == nil {
		return m
	}
	want := s.o.Store.Revision()
	deadline := time.NewTimer(snapshotCatchUp)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for m != nil && m.Revision < want {
		select {
		case <-ctx.Done():
			return m
		case <-deadline.C:
			return m
		case <-tick.C:
			m = s.o.Mesh()
		}
	}
	return m
}
