// Package events keeps the control plane's recent events (applies,
// pushes, NACKs, rotations, policy loads) in a bounded ring buffer and
// fans them out to live subscribers, for the status API's /v1/events.
package events

import (
	"context"
	"sync"
	"time"
)

// Kinds of event.
const (
	KindApply    = "apply"
	KindDelete   = "delete"
	KindPush     = "push"
	KindNack     = "nack"
	KindRotation = "rotation"
	KindPolicy   = "policy"
	// KindExcluded: an apply left a Workload out of a Service it names.
	KindExcluded = "excluded"
	// KindRefused is a set of resources the control plane refused to serve
	// to some proxies (Envoy would not load it); they keep their last set.
	KindRefused = "refused"
	// KindConflict: a resource discovered in Kubernetes is not served,
	// being invalid or shadowed by an applied one of the same key.
	KindConflict = "conflict"
	// KindConnect and KindDisconnect: a proxy connected to or left a
	// replica, when several control planes share an etcd store.
	KindConnect    = "connect"
	KindDisconnect = "disconnect"
	// KindAck: every proxy a push of a replica changed acknowledged it,
	// when several control planes share an etcd store.
	KindAck = "ack"
)

// DefaultSize is how many events a Bus keeps when New is given no size.
const DefaultSize = 1000

// subscriberBuffer is how many events a slow subscriber may lag before it
// misses some; publishing never waits for a subscriber.
const subscriberBuffer = 256

// Event is one thing that happened. Fields that do not apply to a kind
// are left empty.
type Event struct {
	// Seq numbers events from 1 in publishing order, per replica.
	Seq uint64 `json:"seq"`
	// Replica names the control plane the event happened on (its API
	// address) when several share an etcd store.
	Replica string    `json:"replica,omitempty"`
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	// Revision is the store revision an apply made or a push served.
	Revision int64 `json:"revision,omitempty"`
	// Resources names what an apply or delete changed, or the inputs of a
	// refused set (see Refusal), as Kind/namespace/name.
	Resources []string `json:"resources,omitempty"`
	// Proxy and Type name the proxy and xDS type URL of a NACK.
	Proxy string `json:"proxy,omitempty"`
	Type  string `json:"type,omitempty"`
	// Message is a NACK's error detail, or a human summary.
	Message string `json:"message,omitempty"`
	// DurationSeconds is how long a push took.
	DurationSeconds float64 `json:"durationSeconds,omitempty"`
	// Proxies is how many proxies a push reached.
	Proxies int `json:"proxies,omitempty"`
	// Refusal details a refused event: what was refused and what produced it.
	Refusal *Refusal `json:"refusal,omitempty"`
}

// Publisher is the one method producers need; a nil *Bus satisfies it and
// drops every event.
type Publisher interface {
	Publish(Event)
}

// Bus is a bounded ring of recent events with live subscribers. A nil
// *Bus is valid and keeps nothing. It is safe for concurrent use.
type Bus struct {
	mu   sync.Mutex
	ring []Event
	next int // index the next event is written at
	full bool
	seq  uint64
	subs map[chan Event]struct{}
	// replica stamps this bus's own events; others holds the events
	// relayed from the other replicas (see Relay).
	replica string
	others  map[string]*relayed
}

// New returns a Bus that keeps the last size events (DefaultSize when
// size <= 0).
func New(size int) *Bus {
	if size <= 0 {
		size = DefaultSize
	}
	return &Bus{ring: make([]Event, size), subs: map[chan Event]struct{}{}}
}

// Publish records e, stamping its sequence number and, when unset, its
// time, and hands it to every subscriber that has room for it.
func (b *Bus) Publish(e Event) {
	if b == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	e.Seq = b.seq
	if e.Replica == "" {
		e.Replica = b.replica
	}
	b.ring[b.next] = e
	b.next = (b.next + 1) % len(b.ring)
	if b.next == 0 {
		b.full = true
	}
	b.fanOut(e)
}

// fanOut hands e to every subscriber that has room for it; b.mu is held.
func (b *Bus) fanOut(e Event) {
	for ch := range b.subs {
		select {
		case ch <- e:
		default:
			// A subscriber that does not keep up misses events rather
			// than stalling the xDS server; Seq shows the gap.
		}
	}
}

// Recent returns up to n of the latest events, oldest first; n <= 0 means
// all that are kept. With events relayed from other replicas it returns
// the latest n of all, ordered by time.
func (b *Bus) Recent(n int) []Event {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.others) > 0 {
		return b.merged(n)
	}
	return b.own(n)
}

// own returns up to n of this bus's latest events, in publishing order;
// b.mu is held.
func (b *Bus) own(n int) []Event {
	count := b.next
	if b.full {
		count = len(b.ring)
	}
	if n <= 0 || n > count {
		n = count
	}
	out := make([]Event, 0, n)
	for i := count - n; i < count; i++ {
		idx := i
		if b.full {
			idx = (b.next + i) % len(b.ring)
		}
		out = append(out, b.ring[idx])
	}
	return out
}

// Subscribe returns a channel of the events published from now on; it is
// closed when ctx ends. A nil Bus's channel only closes.
func (b *Bus) Subscribe(ctx context.Context) <-chan Event {
	ch := make(chan Event, subscriberBuffer)
	if b == nil {
		go func() { <-ctx.Done(); close(ch) }()
		return ch
	}
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		delete(b.subs, ch)
		close(ch)
		b.mu.Unlock()
	}()
	return ch
}
