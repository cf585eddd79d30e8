package bench

import (
	"context"
	"fmt"
	"time"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
	xdsserver "embassy.dev/embassy/xds/server"
)

// pushStats are the xDS server's send counters at one moment.
type pushStats struct{ s xdsserver.Stats }

func (ph *Phase) pushStats() pushStats { return pushStats{ph.cp.XDS().Stats()} }

// Sub returns the counters sent between o and p.
func (p pushStats) Sub(o pushStats) pushStats {
	return pushStats{xdsserver.Stats{
		SotW:  xdsserver.KindStats{Responses: p.s.SotW.Responses - o.s.SotW.Responses, Bytes: p.s.SotW.Bytes - o.s.SotW.Bytes},
		Delta: xdsserver.KindStats{Responses: p.s.Delta.Responses - o.s.Delta.Responses, Bytes: p.s.Delta.Bytes - o.s.Delta.Bytes},
	}}
}

func (p pushStats) kind(m Mode) xdsserver.KindStats {
	if m == Delta {
		return p.s.Delta
	}
	return p.s.SotW
}

// Bytes is what was sent over streams of mode m.
func (p pushStats) Bytes(m Mode) int64 { return p.kind(m).Bytes }

// Responses is how many responses were sent over streams of mode m.
func (p pushStats) Responses(m Mode) int64 { return p.kind(m).Responses }

// primeWatch commits the Mesh resource until the xDS server has published
// it. controlplane.Start returns before its store watch is subscribed, so a
// commit made right after Start may go unnoticed; retrying the commit
// (with a new annotation, so it is a change) makes sure the watch is live
// before the mesh is seeded.
func (ph *Phase) primeWatch(ctx context.Context) error {
	wait := ph.cfg.Debounce + time.Second
	for attempt := 1; attempt <= 5; attempt++ {
		m := newResource(resource.KindMesh, "default", &resource.MeshSpec{TrustDomain: "embassy.local"})
		m.Metadata.Namespace = ""
		m.Metadata.Annotations = map[string]string{"bench.embassy.dev/attempt": fmt.Sprint(attempt)}
		rev, err := ph.cp.Store().Commit(ctx, []store.Op{{Key: m.Key(), Resource: m}})
		if err != nil {
			return fmt.Errorf("%s phase: committing the Mesh: %w", ph.mode, err)
		}
		deadline := time.Now().Add(wait)
		for time.Now().Before(deadline) {
			if ph.cp.XDS().Stats().Revision >= rev {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return fmt.Errorf("%s phase: the control plane published none of 5 commits of the Mesh resource", ph.mode)
}

// waitPublished waits until the xDS server has pushed the store's revision
// rev to its cache, so proxies connecting next get the whole mesh at once.
func (ph *Phase) waitPublished(ctx context.Context, rev int64) error {
	deadline := time.Now().Add(ph.cfg.ConnectTimeout)
	for ph.cp.XDS().Stats().Revision < rev {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s phase: the xDS server did not publish store revision %d within %v (it is at %d)", ph.mode, rev, ph.cfg.ConnectTimeout, ph.cp.XDS().Stats().Revision)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
