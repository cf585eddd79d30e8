package controlplane

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"embassy.dev/embassy/pkg/store"
)

// leaderTTL is the etcd session TTL, in seconds, of a replica campaigning
// for leadership: a leader that dies (kill -9, a lost machine) stops
// keeping its session alive, and another replica leads once it expires,
// so duties move within this bound plus an election.
const leaderTTL = 3

// leaderElectionKey is where, under the store's prefix, the replicas of
// one etcd store elect the one that runs the once-only duties.
const leaderElectionKey = "leader/"

// leaderRetry is how long a replica waits before campaigning again after
// etcd refused or lost its session.
const leaderRetry = time.Second

// leadership says whether this control plane runs the duties that must
// run once across replicas (the sweep of lapsed agent registrations). A
// control plane alone on its store (bbolt, memory) always leads; on etcd
// the replicas elect one with etcd's own election (go.etcd.io/etcd/client/v3/concurrency).
type leadership struct {
	leads atomic.Bool
}

// leads reports whether this control plane runs the once-only duties now.
func (l *leadership) isLeader() bool { return l.leads.Load() }

// startLeadership makes this control plane the leader when it is alone
// on its store, or starts campaigning on etcd until ctx ends.
func (c *ControlPlane) startLeadership() {
	e, shared := c.store.(*store.Etcd)
	if !shared {
		c.leader.leads.Store(true)
		return
	}
	name := c.APIAddr()
	log := c.log.Named("leader").With("replica", name)
	c.goRun(func() { campaign(c.runCtx, e.Client(), e.Prefix()+leaderElectionKey, name, &c.leader, log) })
}

// campaign runs for leadership until ctx ends, campaigning again whenever
// a session is lost (etcd unreachable for longer than its TTL).
func campaign(ctx context.Context, cli *clientv3.Client, key, name string, l *leadership, log hclog.Logger) {
	for ctx.Err() == nil {
		if err := leadOnce(ctx, cli, key, name, l, log); err != nil && ctx.Err() == nil {
			log.Warn("campaign for leadership failed; trying again", "error", err, "retry_in", leaderRetry)
			select {
			case <-ctx.Done():
			case <-time.After(leaderRetry):
			}
		}
	}
}

// leadOnce opens a session, waits to be elected, and leads until the
// session or ctx ends; it resigns on the way out so that a replica that
// stops hands over at once, not a TTL later.
func leadOnce(ctx context.Context, cli *clientv3.Client, key, name string, l *leadership, log hclog.Logger) error {
	s, err := concurrency.NewSession(cli, concurrency.WithTTL(leaderTTL), concurrency.WithContext(ctx))
	if err != nil {
		return err
	}
	defer s.Close()
	// Campaign does not watch the session: end it when the session ends,
	// so a replica whose lease expired while it waited never thinks it won.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.Done():
			cancel()
		case <-cctx.Done():
		}
	}()
	el := concurrency.NewElection(s, key)
	if err := el.Campaign(cctx, name); err != nil {
		return err
	}
	select {
	case <-s.Done():
		return nil
	default:
	}
	l.leads.Store(true)
	log.Info("this replica is the leader: it runs the once-only duties")
	select {
	case <-s.Done():
		log.Warn("leadership lost: the etcd session expired; campaigning again")
	case <-ctx.Done():
		rctx, rcancel := context.WithTimeout(context.Background(), time.Second)
		_ = el.Resign(rctx)
		rcancel()
	}
	l.leads.Store(false)
	return nil
}
