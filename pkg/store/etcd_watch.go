package store

import (
	"context"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Bounds of the pause between two attempts to reach etcd when following
// its revision fails: short enough that recovery is seen within seconds,
// long enough not to hammer an etcd that is down.
const (
	followRetryMin = 100 * time.Millisecond
	followRetryMax = 2 * time.Second
	// outageCheck is how often a quiet watch looks whether a call found
	// etcd unavailable meanwhile.
	outageCheck = 500 * time.Millisecond
)

// follow tells watchers of every revision any control plane commits. It
// reads the revision, then watches the rev key from just after that read;
// whenever the watch ends (etcd compacted past it, lost its leader, or the
// connection broke) it reads again and watches anew. Watchers need only
// the newest revision, so this relist misses nothing. It returns when ctx
// ends.
func (e *Etcd) follow(ctx context.Context) {
	defer close(e.done)
	wait := followRetryMin
	for ctx.Err() == nil {
		rev, at, err := e.readRev(ctx)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			wait = min(2*wait, followRetryMax)
			continue
		}
		wait = followRetryMin
		e.seen(rev)
		if e.outage.Swap(false) {
			// A read may have failed during the outage, after its
			// revision was sent: send it again.
			e.hub.resend()
		}
		e.watchFrom(ctx, at+1)
	}
}

// watchFrom watches the rev key from etcd revision from until the watch
// ends, or until a call has found etcd unavailable (follow then relists
// once etcd answers). WithRequireLeader ends it when this client's member
// loses its leader, so a partitioned control plane stops trusting a
// silent watch.
func (e *Etcd) watchFrom(ctx context.Context, from int64) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := e.client.Watch(wctx, e.keys.rev(), clientv3.WithRev(from))
	tick := time.NewTicker(outageCheck)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if e.outage.Load() {
				return
			}
		case resp, ok := <-wch:
			if !ok || resp.CompactRevision != 0 || resp.Err() != nil || resp.Canceled {
				return
			}
			for _, ev := range resp.Events {
				if rev, err := parseEtcdRev(ev.Kv.Value); err == nil {
					e.seen(rev)
				}
			}
		}
	}
}
