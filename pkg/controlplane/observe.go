package controlplane

import (
	"fmt"
	"time"

	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/metrics"
	"embassy.dev/embassy/pkg/status"
)

// observability is the events bus, the metrics and the read token the
// status API is built with.
type observability struct {
	started   time.Time
	events    *events.Bus
	metrics   *metrics.Metrics
	readToken string
}

// setupObservability makes the read token (printing its path, never the
// token), the event bus and the metrics, and refuses anonymous reads on
// an API that does not listen on loopback or a malformed --api-host.
func (c *ControlPlane) setupObservability() error {
	if c.cfg.AnonymousReads {
		if err := api.CheckAnonymousReads(c.cfg.APIAddr); err != nil {
			return err
		}
	}
	if err := api.CheckAPIHosts(c.cfg.APIHosts); err != nil {
		return err
	}
	tok, path, created, err := api.EnsureReadToken(c.cfg.DataDir, c.cfg.ReadTokenFile)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(c.cfg.Out, "embassy-cp: created the read token in %s (for status reads: embassyctl --token-file)\n", path)
	} else {
		fmt.Fprintf(c.cfg.Out, "embassy-cp: read token read from %s\n", path)
	}
	c.obs = observability{
		started:   time.Now(),
		readToken: tok,
		events:    events.New(c.cfg.EventBuffer),
		metrics: metrics.New(metrics.Options{
			Proxies: func() []status.Proxy {
				if c.xds == nil {
					return nil
				}
				return c.xds.Proxies()
			},
			PendingUpdates: func() int {
				if c.xds == nil {
					return 0
				}
				return c.xds.PendingUpdates()
			},
			Roots: c.roots,
		}),
	}
	return nil
}

// roots lists the trust bundle's roots, none without a CA.
func (c *ControlPlane) roots() []identity.RootInfo {
	if c.ca == nil {
		return nil
	}
	return c.trustBundle().Roots()
}

// apiOptions adds the status API's sources to o.
func (c *ControlPlane) apiOptions(o api.Options) api.Options {
	o.ReadTokens = []string{c.obs.readToken}
	o.AnonymousReads = c.cfg.AnonymousReads
	o.APIHosts = api.APIHosts(c.cfg.APIAddr, c.cfg.APIHosts)
	o.StaleAfter = c.cfg.StaleAfter
	o.Config = c.xds
	o.Mesh = func() *mesh.Snapshot { return c.snapshot() }
	o.Events = c.obs.events
	o.Metrics = c.obs.metrics.Handler()
	o.Roots = c.roots
	o.AuthzReports = c.authzReports
	o.Rego = c.authz.reads
	o = c.caAPIOptions(o)
	o.StartedAt = c.obs.started
	o.LastPush = func() (api.PushInfo, bool) {
		p, ok := c.xds.LastPush()
		return api.PushInfo{Revision: p.Revision, Time: p.At, Duration: p.Took, Proxies: p.Nodes, Refused: p.Refusals}, ok
	}
	return o
}

// Events exposes the event bus, for tests.
func (c *ControlPlane) Events() *events.Bus { return c.obs.events }
