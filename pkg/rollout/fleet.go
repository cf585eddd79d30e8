package rollout

import (
	"slices"
	"sort"
	"time"
)

// Replicas sharing an etcd store all serve the same revisions, so a
// change id means the same apply on each; but each replica pushes it to
// its own proxies on its own schedule. A replica publishes a Report of its
// latest pushes, and any replica answers for the whole fleet by merging
// the Reports of the others with its own Tracker (Merge).

// Report is one replica's latest pushes and what its proxies answered,
// as it publishes them for the replicas sharing its store.
type Report struct {
	// Pushed is the revision of its latest push; 0 before its first.
	Pushed int64 `json:"pushed"`
	// Pushes are its latest pushes, oldest first, each without its
	// proxies' types.
	Pushes []PushReport `json:"pushes"`
}

// PushReport is one push of a Report: it carried every change after
// After, the revision of the push before it, up to Revision.
type PushReport struct {
	After    int64     `json:"after"`
	Revision int64     `json:"revision"`
	At       time.Time `json:"at"`
	Proxies  []Proxy   `json:"proxies"`
}

// Report returns the latest pushes whose proxies number at most
// maxProxies in all, and always the latest push, so a published Report
// stays bounded whatever the fleet's size.
func (t *Tracker) Report(maxProxies int) Report {
	t.mu.Lock()
	defer t.mu.Unlock()
	var r Report
	if len(t.pushes) == 0 {
		return r
	}
	r.Pushed = t.pushes[len(t.pushes)-1].revision
	n := 0
	for i := len(t.pushes) - 1; i >= 0; i-- {
		p := t.pushes[i]
		if n += len(p.expect); n > maxProxies && len(r.Pushes) > 0 {
			break
		}
		pr := PushReport{Revision: p.revision, At: p.at, Proxies: p.proxies(false)}
		if i > 0 {
			pr.After = t.pushes[i-1].revision
		} else {
			pr.After = t.forgotten
		}
		r.Pushes = append(r.Pushes, pr)
	}
	slices.Reverse(r.Pushes)
	return r
}

// Gather adds what a newer Report of the same replica says to what was
// gathered before: pushes it still lists are replaced by its newer
// answers, older ones are kept, the latest up to keep pushes and
// maxProxies proxies in all (the latest push always). So a reader
// remembers a replica's pushes for longer than the replica publishes
// them, in bounded memory.
func Gather(gathered, newer Report, keep, maxProxies int) Report {
	if newer.Pushed < gathered.Pushed {
		// The replica restarted on an older store; what it said before
		// no longer describes its proxies.
		return newer
	}
	byRev := map[int64]PushReport{}
	for _, p := range gathered.Pushes {
		byRev[p.Revision] = p
	}
	for _, p := range newer.Pushes {
		byRev[p.Revision] = p
	}
	out := Report{Pushed: newer.Pushed, Pushes: make([]PushReport, 0, len(byRev))}
	for _, p := range byRev {
		out.Pushes = append(out.Pushes, p)
	}
	sort.Slice(out.Pushes, func(i, j int) bool { return out.Pushes[i].Revision < out.Pushes[j].Revision })
	first, n := len(out.Pushes)-1, 0
	for ; first > 0; first-- {
		if n += len(out.Pushes[first].Proxies); n+len(out.Pushes[first-1].Proxies) > maxProxies || len(out.Pushes)-first == keep {
			break
		}
	}
	out.Pushes = out.Pushes[max(first, 0):]
	return out
}

// Change reports the change of revision as the Report's replica sees it,
// as Tracker.Change does; ok is false when the push that carried it is
// not in the Report.
func (r Report) Change(revision int64) (Change, bool) {
	c := Change{ID: ChangeID(revision), Revision: revision, State: Pending, Proxies: []Proxy{}}
	if revision > r.Pushed {
		return c, true
	}
	i := sort.Search(len(r.Pushes), func(i int) bool { return r.Pushes[i].Revision >= revision })
	if i == len(r.Pushes) || r.Pushes[i].After >= revision {
		return c, false
	}
	p := r.Pushes[i]
	c.Pushed, c.PushRevision, c.PushedAt = true, p.Revision, p.At
	c.Proxies = append(c.Proxies, p.Proxies...)
	c.settle()
	return c, true
}

// Part is one replica's side of a change, for Merge.
type Part struct {
	Replica string
	Change  Change
	// Known is false when the replica no longer remembers the push that
	// carried the change.
	Known bool
}

// ReplicaPush is how far one replica has pushed a change.
type ReplicaPush struct {
	Replica string `json:"replica"`
	// Pushed is false until the replica pushed the change to its
	// proxies; Known false means it no longer remembers that push.
	Pushed       bool      `json:"pushed"`
	Known        bool      `json:"known"`
	PushRevision int64     `json:"pushRevision,omitempty"`
	PushedAt     time.Time `json:"pushedAt,omitzero"`
}

// Merge reports a change for the whole fleet from every replica's part:
// each proxy named with its replica, PENDING until every replica has
// pushed it and every proxy answered, FAILED once any proxy rejected it,
// CONVERGED at the last ack anywhere, timed from the first push anywhere.
// A proxy is judged by the replica it is connected to now (where; "" when
// it is connected to none): a replica it left no longer speaks for it.
// ok is false when no replica remembers the change.
func Merge(revision int64, parts []Part, where func(proxy string) string) (Change, bool) {
	c := Change{ID: ChangeID(revision), Revision: revision, State: Pending, Proxies: []Proxy{}, Pushed: true}
	known := false
	for _, p := range parts {
		c.Replicas = append(c.Replicas, ReplicaPush{Replica: p.Replica, Pushed: p.Change.Pushed, Known: p.Known,
			PushRevision: p.Change.PushRevision, PushedAt: p.Change.PushedAt})
		if !p.Known {
			continue
		}
		known = true
		if !p.Change.Pushed {
			c.Pushed = false
			continue
		}
		if c.PushedAt.IsZero() || p.Change.PushedAt.Before(c.PushedAt) {
			c.PushedAt = p.Change.PushedAt
		}
		c.PushRevision = max(c.PushRevision, p.Change.PushRevision)
		for _, px := range p.Change.Proxies {
			if now := where(px.ID); now != "" && now != p.Replica {
				continue
			}
			px.Replica = p.Replica
			if px.Types == nil {
				px.Types = []Type{}
			}
			c.Proxies = append(c.Proxies, px)
		}
	}
	sort.Slice(c.Replicas, func(i, j int) bool { return c.Replicas[i].Replica < c.Replicas[j].Replica })
	c.Proxies = latestPerProxy(c.Proxies, parts)
	if !known || c.PushedAt.IsZero() {
		c.Pushed, c.PushRevision, c.PushedAt = false, 0, time.Time{}
		return c, known
	}
	c.settle()
	if !c.Pushed && c.State == Converged {
		c.State, c.ConvergedAt, c.ConvergenceSeconds = Pending, time.Time{}, 0
	}
	return c, true
}

// latestPerProxy keeps one entry per proxy: a proxy connected nowhere
// now may be listed by each replica it was on; the latest push speaks
// for it.
func latestPerProxy(ps []Proxy, parts []Part) []Proxy {
	pushedAt := map[string]time.Time{}
	for _, p := range parts {
		pushedAt[p.Replica] = p.Change.PushedAt
	}
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].ID != ps[j].ID {
			return ps[i].ID < ps[j].ID
		}
		return pushedAt[ps[i].Replica].After(pushedAt[ps[j].Replica])
	})
	return slices.CompactFunc(ps, func(a, b Proxy) bool { return a.ID == b.ID })
}
