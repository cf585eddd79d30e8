package controlplane

import (
	"context"

	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/resource"
)

// Discovery is a source of resources beside the store: a Kubernetes
// cluster's Services and Workloads (pkg/kube/discovery). Its resources
// are laid over the stored ones at every publish and in every apply's
// reference check, never stored.
type Discovery interface {
	// Overlay returns stored with the source's resources added, and the
	// problems of those it left out (invalid, or shadowed by a stored
	// resource of the same key). It must not modify stored.
	Overlay(stored []*resource.Resource) (merged []*resource.Resource, problems []string)
	// Changes receives a value after the source changed.
	Changes() <-chan struct{}
}

// overlay adds the discovered resources to a publish's stored ones and
// reports each problem once, when it appears, as a conflict event and a
// warning. Called under publishMu.
func (c *ControlPlane) overlay(stored []*resource.Resource, rev int64) []*resource.Resource {
	if c.cfg.Discovery == nil {
		return stored
	}
	merged, problems := c.cfg.Discovery.Overlay(stored)
	now := make(map[string]bool, len(problems))
	for _, p := range problems {
		now[p] = true
		if !c.discoveryProblems[p] {
			c.log.Warn("a discovered resource is not served", "problem", p)
			c.obs.events.Publish(events.Event{Kind: events.KindConflict, Revision: rev, Message: p})
		}
	}
	c.discoveryProblems = now
	return merged
}

// applyOverlay is the applier's view of the discovered resources.
func (c *ControlPlane) applyOverlay(stored []*resource.Resource) []*resource.Resource {
	merged, _ := c.cfg.Discovery.Overlay(stored)
	return merged
}

// followDiscovery republishes after every change of the discovered
// resources; the xDS server debounces, as for store changes.
func (c *ControlPlane) followDiscovery(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.cfg.Discovery.Changes():
			if err := c.publish(ctx); err != nil && ctx.Err() == nil {
				c.log.Error("publishing a discovered change failed", "error", err)
			}
		}
	}
}
