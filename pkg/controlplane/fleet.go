package controlplane

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"embassy.dev/embassy/pkg/status"
	"embassy.dev/embassy/pkg/store"
)

// fleetInterval is how often a replica publishes the proxies connected
// to it and reads the others'; fleetTTL is how long a replica's list
// outlives its last publication, so a dead replica's proxies leave
// /v1/proxies within it (by then they are connected elsewhere).
const (
	fleetInterval = time.Second
	fleetTTL      = 5 * time.Second
)

// fleetKey names a replica's published proxies among the store's live
// values.
const fleetKey = "proxies/"

// fleet is the proxies of every replica sharing the etcd store: those
// connected here, as the xDS server tracks them, and those the other
// replicas published at most fleetInterval ago. It answers /v1/proxies,
// so any replica shows the whole fleet.
type fleet struct {
	local status.Registry
	e     *store.Etcd
	self  string
	log   hclog.Logger

	mu     sync.Mutex
	others []status.Proxy
}

// proxyRegistry is what /v1/proxies reads: the fleet on etcd, this
// control plane's own proxies otherwise.
func (c *ControlPlane) proxyRegistry() status.Registry {
	if c.fleet != nil {
		return c.fleet
	}
	return c.xds
}

// startFleet publishes and gathers the fleet's proxies on an etcd store.
func (c *ControlPlane) startFleet() {
	e, shared := c.store.(*store.Etcd)
	if !shared {
		return
	}
	c.fleet = &fleet{local: c.xds, e: e, self: c.APIAddr(), log: c.log.Named("fleet")}
	c.goRun(func() { c.fleet.run(c.runCtx) })
}

// Proxies returns every replica's proxies, sorted by ID. A proxy listed
// by two replicas (it moved, and the one it left has not expired yet) is
// shown as the one it connected to last.
func (f *fleet) Proxies() []status.Proxy {
	f.mu.Lock()
	all := append(f.local.Proxies(), f.others...)
	f.mu.Unlock()
	slices.SortStableFunc(all, func(a, b status.Proxy) int {
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return b.ConnectedSince.Compare(a.ConnectedSince)
	})
	return slices.CompactFunc(all, func(a, b status.Proxy) bool { return a.ID == b.ID })
}

// run publishes and gathers every fleetInterval until ctx ends. A store
// that does not answer leaves the others as last read.
func (f *fleet) run(ctx context.Context) {
	t := time.NewTicker(fleetInterval)
	defer t.Stop()
	for {
		if err := f.exchange(ctx); err != nil && ctx.Err() == nil {
			f.log.Debug("exchanging the fleet's proxies failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// exchange publishes this replica's proxies and reads the others'.
func (f *fleet) exchange(ctx context.Context) error {
	mine, err := json.Marshal(f.local.Proxies())
	if err != nil {
		return err
	}
	if err := f.e.PublishLive(ctx, fleetKey+f.self, mine, fleetTTL); err != nil {
		return err
	}
	live, err := f.e.ReadLive(ctx)
	if err != nil {
		return err
	}
	var others []status.Proxy
	for name, raw := range live {
		if !strings.HasPrefix(name, fleetKey) || name == fleetKey+f.self {
			continue
		}
		var ps []status.Proxy
		if err := json.Unmarshal(raw, &ps); err != nil {
			f.log.Warn("a replica's published proxies do not decode; skipped", "replica", strings.TrimPrefix(name, fleetKey), "error", err)
			continue
		}
		others = append(others, ps...)
	}
	f.mu.Lock()
	f.others = others
	f.mu.Unlock()
	return nil
}
