package controlplane

import (
	"context"
	"time"

	"embassy.dev/embassy/pkg/rollout"
	"embassy.dev/embassy/pkg/status"
)

// A replica publishes its latest pushes and its proxies' answers to them
// (rollout.Report) with its proxies, and gathers the others', so a change
// id, the same store revision everywhere, reports every replica's proxies.
const (
	// fleetReportProxies bounds the proxies, summed over pushes, a
	// published report lists; the latest push is always listed whole.
	fleetReportProxies = 4_000
	// fleetGatheredPushes and fleetGatheredProxies bound what a replica
	// remembers of each other replica's pushes (about 150 bytes a proxy
	// in memory), so a change older than what that replica still
	// publishes is answered for.
	fleetGatheredPushes  = 256
	fleetGatheredProxies = 50_000
	// fleetFresh is how old the others' reports may be when a change is
	// asked for; older, they are read again (within fleetFreshTimeout),
	// so apply --wait, which asks five times a second, hears of an answer
	// as soon as its replica publishes it rather than on this replica's
	// next second.
	fleetFresh        = 200 * time.Millisecond
	fleetFreshTimeout = 500 * time.Millisecond
)

// Change reports the change of revision across the fleet: this
// replica's own pushes and answers, merged with what every other live
// replica published at most fleetInterval ago. A proxy is judged by the
// replica it is connected to now.
func (f *fleet) Change(revision int64) (rollout.Change, bool) {
	f.refresh()
	local, ok := f.changes.Change(revision)
	parts := []rollout.Part{{Replica: f.self, Change: local, Known: ok}}
	where := f.where()
	f.mu.Lock()
	for replica, r := range f.reports {
		c, ok := r.Change(revision)
		parts = append(parts, rollout.Part{Replica: replica, Change: c, Known: ok})
	}
	f.mu.Unlock()
	return rollout.Merge(revision, parts, func(node string) string { return where[node] })
}

// refresh reads the others' reports again when they are older than
// fleetFresh, unless etcd did not answer last time (they then stay as
// last read, and the periodic exchange finds out when it is back) or a
// read is under way: a request never waits on etcd for more than
// fleetFreshTimeout.
func (f *fleet) refresh() {
	f.mu.Lock()
	stale := time.Since(f.gathered) > fleetFresh
	f.mu.Unlock()
	if !stale || f.unreachable.Load() || !f.gathering.TryLock() {
		// A read under way (the periodic one) brings them soon enough.
		return
	}
	defer f.gathering.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), fleetFreshTimeout)
	defer cancel()
	if err := f.gather(ctx); err != nil {
		f.log.Debug("reading the fleet's reports for a change failed", "error", err)
	}
}

// where maps each connected proxy's node key to the replica it connected
// to last.
func (f *fleet) where() map[string]string {
	byReplica := map[string][]status.Proxy{f.self: f.local.Proxies()}
	f.mu.Lock()
	for replica, ps := range f.others {
		byReplica[replica] = ps
	}
	f.mu.Unlock()
	at, since := map[string]string{}, map[string]time.Time{}
	for replica, ps := range byReplica {
		for _, p := range ps {
			k := nodeKey(p)
			if s, seen := since[k]; !seen || p.ConnectedSince.After(s) {
				at[k], since[k] = replica, p.ConnectedSince
			}
		}
	}
	return at
}
