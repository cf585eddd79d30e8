package events

import (
	"cmp"
	"slices"
	"time"
)

// Replicas sharing an etcd store each publish their own latest events and
// relay the others' into their Bus, so /v1/events on any replica shows
// the whole fleet's. A Bus keeps as many events per other replica as of
// its own, after that replica's death too, for at most maxOtherReplicas
// replicas.

// maxOtherReplicas bounds the replicas whose events a Bus keeps; past it
// the one heard from longest ago is forgotten.
const maxOtherReplicas = 32

// relayed is what a Bus keeps of another replica's events.
type relayed struct {
	// epoch is the replica's start, so a replica that restarts and
	// numbers its events from 1 again is heard.
	epoch   int64
	lastSeq uint64
	events  []Event
	heard   time.Time
}

// SetReplica names the replica this Bus's own events happen on.
func (b *Bus) SetReplica(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.replica = name
}

// Own returns this replica's events from since on (by their time), at
// most max of the latest, in publishing order: what it publishes for
// the others.
func (b *Bus) Own(since time.Time, max int) []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Event
	for _, e := range b.own(0) {
		if !e.Time.Before(since) {
			out = append(out, e)
		}
	}
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return out
}

// Relay adds the events another replica published, as it numbered them
// in its epoch: those not relayed before are kept and handed to
// subscribers. A replica publishes its latest events each time, so most
// are relayed again and skipped.
func (b *Bus) Relay(replica string, epoch int64, evs []Event) {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.others == nil {
		b.others = map[string]*relayed{}
	}
	r := b.others[replica]
	if r == nil {
		r = &relayed{epoch: epoch}
		b.others[replica] = r
		b.forgetOldest()
	}
	if r.epoch != epoch {
		r.epoch, r.lastSeq = epoch, 0
	}
	r.heard = now
	evs = slices.SortedFunc(slices.Values(evs), func(a, b Event) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, e := range evs {
		if e.Seq <= r.lastSeq {
			continue
		}
		r.lastSeq, e.Replica = e.Seq, replica
		r.events = append(r.events, e)
		b.fanOut(e)
	}
	if over := len(r.events) - len(b.ring); over > 0 {
		r.events = slices.Clone(r.events[over:])
	}
}

// forgetOldest drops the replica heard from longest ago once more than
// maxOtherReplicas are kept; b.mu is held.
func (b *Bus) forgetOldest() {
	if len(b.others) <= maxOtherReplicas {
		return
	}
	oldest := ""
	for name, r := range b.others {
		if oldest == "" || r.heard.Before(b.others[oldest].heard) {
			oldest = name
		}
	}
	delete(b.others, oldest)
}

// merged returns up to n of the latest events of every replica, ordered
// by time; b.mu is held.
func (b *Bus) merged(n int) []Event {
	all := b.own(0)
	for _, r := range b.others {
		all = append(all, r.events...)
	}
	slices.SortStableFunc(all, func(x, y Event) int {
		return cmp.Or(x.Time.Compare(y.Time), cmp.Compare(x.Replica, y.Replica), cmp.Compare(x.Seq, y.Seq))
	})
	if n > 0 && len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}
