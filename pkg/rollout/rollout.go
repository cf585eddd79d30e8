// Package rollout follows each applied change to the proxies: it hears,
// per push, which proxies' resources changed and which versions they were
// sent, and, per answer, which versions each proxy acknowledged or
// rejected. A change (one apply, "c-<revision>") is carried by the first
// push at or after its revision; it has converged when every proxy that
// push changed has acknowledged what it was sent (or a later version).
package rollout

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// States of a proxy, of one type on it, and of a whole change.
const (
	Pending   = "PENDING"
	Acked     = "ACKED"
	Nacked    = "NACKED"
	Converged = "CONVERGED"
	Failed    = "FAILED"
)

// MaxPushes bounds how many pushes the Tracker remembers.
const MaxPushes = 1024

// ChangeID names the change an apply committed at revision.
func ChangeID(revision int64) string { return "c-" + strconv.FormatInt(revision, 10) }

// ParseChangeID reads a change id back to its revision.
func ParseChangeID(id string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(id, "c-"), 10, 64)
	if err != nil || !strings.HasPrefix(id, "c-") || n < 0 {
		return 0, fmt.Errorf("change id %q: expected c-<revision>, as apply reports it", id)
	}
	return n, nil
}

// Change is what became of one change.
type Change struct {
	ID       string `json:"id"`
	Revision int64  `json:"revision"`
	// Pushed is false until a push at or after Revision was built.
	Pushed       bool      `json:"pushed"`
	PushRevision int64     `json:"pushRevision,omitempty"`
	PushedAt     time.Time `json:"pushedAt,omitzero"`
	// State is PENDING, CONVERGED (every proxy acked) or FAILED (a proxy
	// rejected it; the others may still be pending).
	State   string  `json:"state"`
	Proxies []Proxy `json:"proxies"`
	// ConvergedAt is the last acknowledgement, and ConvergenceSeconds its
	// distance from the push, once CONVERGED.
	ConvergedAt        time.Time `json:"convergedAt,omitzero"`
	ConvergenceSeconds float64   `json:"convergenceSeconds,omitempty"`
	// Replicas, when several control planes share an etcd store, says
	// how far each has pushed the change to its own proxies.
	Replicas []ReplicaPush `json:"replicas,omitempty"`
}

// Proxy is one proxy the change's push changed.
type Proxy struct {
	ID string `json:"id"`
	// State is the worst of its types': NACKED, PENDING, then ACKED.
	State string `json:"state"`
	// Message is the rejection's, when NACKED.
	Message string `json:"message,omitempty"`
	// Replica names the control plane the proxy is connected to, when
	// several share an etcd store (its API address).
	Replica string `json:"replica,omitempty"`
	// AnsweredAt is its last acknowledgement, once ACKED.
	AnsweredAt time.Time `json:"answeredAt,omitzero"`
	// Types are its types the push changed; a proxy of another replica
	// is reported without them.
	Types []Type `json:"types"`
}

// Type is one xDS type of a proxy that the push changed.
type Type struct {
	TypeURL    string    `json:"typeUrl"`
	Version    string    `json:"version"`
	State      string    `json:"state"`
	Message    string    `json:"message,omitempty"`
	AnsweredAt time.Time `json:"answeredAt,omitzero"`
}

// Tracker records pushes and answers. It is safe for concurrent use.
type Tracker struct {
	mu     sync.Mutex
	pushes []*push
	// forgotten is the revision of the latest push no longer kept.
	forgotten int64
	// last is the latest answer per node and type, for answers that
	// arrive before their push is recorded (the cache sends first).
	last map[string]map[string]answer
	// settled hears of each push that needs no more answers; nil hears
	// nothing.
	settled func(revision int64)
}

type push struct {
	revision int64
	at       time.Time
	// expect is node → type URL → expectation.
	expect map[string]map[string]*expectation
	// pending counts the expectations still PENDING.
	pending int
}

type expectation struct {
	version string
	state   string
	message string
	at      time.Time
}

type answer struct {
	version, nack string
	at            time.Time
}

// NewTracker returns an empty Tracker.
func NewTracker() *Tracker { return &Tracker{last: map[string]map[string]answer{}} }

// OnSettled has fn called, outside the Tracker's lock, once for each
// push that needs no more answers: when it is recorded with none owed,
// or when the last one it was owed arrives (an ack or a rejection), from
// the next push or answer on.
func (t *Tracker) OnSettled(fn func(revision int64)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.settled = fn
}

// Pushed records a push of revision at at, and for each node whose
// resources changed, the version of each changed type it was sent.
func (t *Tracker) Pushed(revision int64, at time.Time, changed map[string]map[string]string) {
	p := &push{revision: revision, at: at, expect: map[string]map[string]*expectation{}}
	t.mu.Lock()
	for node, types := range changed {
		m := map[string]*expectation{}
		for typeURL, v := range types {
			e := &expectation{version: v, state: Pending}
			if a, ok := t.last[node][typeURL]; ok && a.version == v && !a.at.Before(at) {
				e.resolve(a)
			} else {
				p.pending++
			}
			m[typeURL] = e
		}
		p.expect[node] = m
	}
	t.pushes = append(t.pushes, p)
	if len(t.pushes) > MaxPushes {
		t.forgotten = t.pushes[len(t.pushes)-MaxPushes-1].revision
		t.pushes = append([]*push(nil), t.pushes[len(t.pushes)-MaxPushes:]...)
	}
	settled, done := t.settled, p.pending == 0
	t.mu.Unlock()
	if settled != nil && done {
		settled(revision)
	}
}

// Answered records a node's answer to a version of a type: an ack when
// nack is empty, else the rejection's message. An ack also settles every
// earlier pending expectation of the node and type, since a proxy holds
// the whole of its latest version.
func (t *Tracker) Answered(node, typeURL, version, nack string, at time.Time) {
	a := answer{version: version, nack: nack, at: at}
	var done []int64
	t.mu.Lock()
	defer func() {
		settled := t.settled
		t.mu.Unlock()
		for _, rev := range done {
			if settled != nil {
				settled(rev)
			}
		}
	}()
	if t.last[node] == nil {
		t.last[node] = map[string]answer{}
	}
	t.last[node][typeURL] = a
	// Find the newest push that sent this version; it and, for an ack,
	// every earlier pending one are settled.
	newest := -1
	for i := len(t.pushes) - 1; i >= 0; i-- {
		if e := t.pushes[i].expect[node][typeURL]; e != nil && e.version == version {
			newest = i
			break
		}
	}
	if newest < 0 {
		return
	}
	for i := newest; i >= 0; i-- {
		e := t.pushes[i].expect[node][typeURL]
		if e == nil {
			continue
		}
		if i == newest || (nack == "" && e.state == Pending) {
			if e.state == Pending {
				if t.pushes[i].pending--; t.pushes[i].pending == 0 {
					done = append(done, t.pushes[i].revision)
				}
			}
			e.resolve(a)
		}
	}
}

func (e *expectation) resolve(a answer) {
	e.at = a.at
	if a.nack != "" {
		e.state, e.message = Nacked, a.nack
		return
	}
	e.state, e.message = Acked, ""
}

// Change reports the change of revision; ok is false when the push that
// carried it is no longer remembered.
func (t *Tracker) Change(revision int64) (Change, bool) {
	c := Change{ID: ChangeID(revision), Revision: revision, State: Pending, Proxies: []Proxy{}}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.pushes) > 0 && t.pushes[0].revision > revision && len(t.pushes) == MaxPushes {
		return c, false
	}
	var p *push
	for _, cand := range t.pushes {
		if cand.revision >= revision {
			p = cand
			break
		}
	}
	if p == nil {
		return c, true
	}
	c.Pushed, c.PushRevision, c.PushedAt = true, p.revision, p.at
	c.Proxies = p.proxies(true)
	c.settle()
	return c, true
}

// proxies reports every proxy the push changed, sorted by ID; types
// lists each one's types too.
func (p *push) proxies(types bool) []Proxy {
	out := make([]Proxy, 0, len(p.expect))
	for node, expect := range p.expect {
		px := Proxy{ID: node, State: Acked}
		for typeURL, e := range expect {
			if types {
				px.Types = append(px.Types, Type{TypeURL: typeURL, Version: e.version, State: e.state, Message: e.message, AnsweredAt: e.at})
			}
			switch e.state {
			case Nacked:
				px.State, px.Message = Nacked, e.message
			case Pending:
				if px.State != Nacked {
					px.State = Pending
				}
			case Acked:
				if e.at.After(px.AnsweredAt) {
					px.AnsweredAt = e.at
				}
			}
		}
		if px.State != Acked {
			px.AnsweredAt = time.Time{}
		}
		sort.Slice(px.Types, func(i, j int) bool { return px.Types[i].TypeURL < px.Types[j].TypeURL })
		out = append(out, px)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// settle sets a pushed change's state from its proxies': FAILED when one
// rejected it, CONVERGED when every one acked it (at the last ack), else
// PENDING.
func (c *Change) settle() {
	acked, nacked, last := 0, 0, c.PushedAt
	for _, px := range c.Proxies {
		switch px.State {
		case Acked:
			acked++
			if px.AnsweredAt.After(last) {
				last = px.AnsweredAt
			}
		case Nacked:
			nacked++
		}
	}
	switch {
	case nacked > 0:
		c.State = Failed
	case acked == len(c.Proxies):
		c.State, c.ConvergedAt, c.ConvergenceSeconds = Converged, last, last.Sub(c.PushedAt).Seconds()
	default:
		c.State = Pending
	}
}
