package controlplane

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/rollout"
	"embassy.dev/embassy/pkg/status"
	"embassy.dev/embassy/pkg/store"
	"embassy.dev/embassy/xds/cache"
)

// fleetInterval is how often a replica publishes its report and reads
// the others'; fleetTTL is how long a replica's report outlives its last
// publication, so a dead replica's proxies leave /v1/proxies within it
// (by then they are connected elsewhere).
const (
	fleetInterval = time.Second
	fleetTTL      = 5 * time.Second
)

// fleetKey names a replica's published report among the store's live
// values.
const fleetKey = "proxies/"

// fleetReport is what a replica publishes each fleetInterval under its
// leased key: one etcd write a second per replica, whatever happens.
type fleetReport struct {
	// Epoch is the replica's start (Unix nanoseconds): its events are
	// numbered from 1 in each.
	Epoch   int64          `json:"epoch"`
	Proxies []status.Proxy `json:"proxies"`
	Changes rollout.Report `json:"changes"`
	Events  []events.Event `json:"events"`
}

// fleet is what every replica sharing the etcd store knows: the proxies
// connected here, as the xDS server tracks them, their answers to each
// change and this replica's events, and the same of the other replicas
// as they published them at most fleetInterval ago. It answers
// /v1/proxies and /v1/changes, and relays the others' events into this
// replica's bus for /v1/events, so any replica shows the whole fleet.
type fleet struct {
	local   status.Registry
	changes *rollout.Tracker
	events  *events.Bus
	e       *store.Etcd
	self    string
	epoch   int64
	log     hclog.Logger

	// settled is signalled when a push of this replica needs no more
	// answers.
	settled chan struct{}

	// gathering serializes reads of the others' reports; unreachable
	// says the last call to etcd failed, so no request waits on it.
	gathering   sync.Mutex
	unreachable atomic.Bool

	mu sync.Mutex
	// others is each other replica's proxies, and reports what this
	// replica gathered of its pushes, by replica, while its report is live.
	others  map[string][]status.Proxy
	reports map[string]rollout.Report
	// connected is this replica's proxies at the last exchange, by node
	// key, for its connect and disconnect events.
	connected map[string]status.Proxy
	// gathered is when the others' reports were last read.
	gathered time.Time
	// acked is the revisions of this replica's pushes whose ack event
	// is published, among those its report lists.
	acked map[int64]bool
}

// proxyRegistry is what /v1/proxies reads: the fleet on etcd, this
// control plane's own proxies otherwise.
func (c *ControlPlane) proxyRegistry() status.Registry {
	if c.fleet != nil {
		return c.fleet
	}
	return c.xds
}

// changeSource is what /v1/changes reads: the fleet on etcd, this
// control plane's own pushes otherwise.
func (c *ControlPlane) changeSource() api.ChangeSource {
	if c.fleet != nil {
		return c.fleet
	}
	return c.changes
}

// startFleet publishes and gathers the fleet's report on an etcd store.
func (c *ControlPlane) startFleet() {
	e, shared := c.store.(*store.Etcd)
	if !shared {
		return
	}
	c.fleet = &fleet{local: c.xds, changes: c.changes, events: c.obs.events, e: e, self: c.APIAddr(),
		epoch: time.Now().UnixNano(), log: c.log.Named("fleet")}
	c.fleet.settled = make(chan struct{}, 1)
	c.changes.OnSettled(func(int64) {
		select {
		case c.fleet.settled <- struct{}{}:
		default: // an exchange is already due
		}
	})
	c.obs.events.SetReplica(c.fleet.self)
	c.goRun(func() { c.fleet.run(c.runCtx) })
}

// nodeKey is the key the xDS server and the change tracker know p by:
// an agent and its workload's own node share an id.
func nodeKey(p status.Proxy) string {
	if p.Flavour == string(cache.Agent) {
		return p.ID + cache.AgentKeySuffix
	}
	return p.ID
}

// Proxies returns every replica's proxies, sorted by ID. A proxy listed
// by two replicas (it moved, and the one it left has not expired yet) is
// shown as the one it connected to last.
func (f *fleet) Proxies() []status.Proxy {
	all := f.local.Proxies()
	f.mu.Lock()
	for _, ps := range f.others {
		all = append(all, ps...)
	}
	f.mu.Unlock()
	slices.SortStableFunc(all, func(a, b status.Proxy) int {
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		if c := strings.Compare(a.Flavour, b.Flavour); c != 0 {
			return c
		}
		return b.ConnectedSince.Compare(a.ConnectedSince)
	})
	return slices.CompactFunc(all, func(a, b status.Proxy) bool { return nodeKey(a) == nodeKey(b) })
}

// run publishes and gathers every fleetInterval, and as soon as a push
// of this replica needs no more answers, until ctx ends: so the others
// hear of the last ack of a change at once, for at most one more write
// per push. A store that does not answer leaves the others as last read.
func (f *fleet) run(ctx context.Context) {
	t := time.NewTicker(fleetInterval)
	defer t.Stop()
	for {
		if err := f.exchange(ctx); err != nil && ctx.Err() == nil {
			f.log.Debug("exchanging the fleet's report failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-f.settled:
		}
	}
}

// exchange publishes this replica's report and reads the others'.
func (f *fleet) exchange(ctx context.Context) error {
	mine := f.report(time.Now())
	raw, err := encodeFleetReport(mine)
	if err != nil {
		return err
	}
	if err := f.e.PublishLive(ctx, fleetKey+f.self, raw, fleetTTL); err != nil {
		f.unreachable.Store(true)
		return err
	}
	f.gathering.Lock()
	defer f.gathering.Unlock()
	return f.gather(ctx)
}

// gather reads the other replicas' reports; f.gathering is held, so a
// read Change asks for and the periodic one do not undo each other.
func (f *fleet) gather(ctx context.Context) error {
	live, err := f.e.ReadLive(ctx)
	f.unreachable.Store(err != nil)
	if err != nil {
		return err
	}
	others, reports := map[string][]status.Proxy{}, map[string]rollout.Report{}
	for name, raw := range live {
		replica, ok := strings.CutPrefix(name, fleetKey)
		if !ok || replica == f.self {
			continue
		}
		r, err := decodeFleetReport(raw)
		if err != nil {
			f.log.Warn("a replica's published report does not decode; skipped", "replica", replica, "error", err)
			continue
		}
		others[replica] = r.Proxies
		f.mu.Lock()
		reports[replica] = rollout.Gather(f.reports[replica], r.Changes, fleetGatheredPushes, fleetGatheredProxies)
		f.mu.Unlock()
		f.events.Relay(replica, r.Epoch, r.Events)
	}
	f.mu.Lock()
	f.others, f.reports, f.gathered = others, reports, time.Now()
	f.mu.Unlock()
	return nil
}
