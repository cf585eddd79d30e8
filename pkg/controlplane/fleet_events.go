package controlplane

import (
	"fmt"
	"time"

	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/rollout"
	"embassy.dev/embassy/pkg/status"
)

// A replica publishes its own latest events with its report; the others
// relay them into their buses. Each report repeats the events of the last
// fleetEventWindow, so a reader that misses a report or two misses no
// event, and holds at most fleetEvents of them, so a report stays small.
const (
	fleetEventWindow = 10 * fleetInterval
	fleetEvents      = 200
	// fleetEventItems bounds the resources and refused problems an event
	// carries to the other replicas; its own replica shows them all.
	fleetEventItems = 20
)

// report is what this replica publishes now: its proxies, its latest
// pushes and their answers, and its latest events, after noting which
// proxies connected or left since the last report.
func (f *fleet) report(now time.Time) fleetReport {
	proxies := f.local.Proxies()
	f.noteConnections(proxies, now)
	r := fleetReport{Epoch: f.epoch, Proxies: proxies, Changes: f.changes.Report(fleetReportProxies)}
	f.noteAcks(r.Changes)
	for _, e := range f.events.Own(now.Add(-fleetEventWindow), fleetEvents) {
		r.Events = append(r.Events, forPeers(e))
	}
	return r
}

// noteConnections publishes a connect event for each proxy connected
// since the last report (at the time it connected) and a disconnect
// event for each one gone. A proxy that reconnected in between shows
// both.
func (f *fleet) noteConnections(proxies []status.Proxy, now time.Time) {
	current := make(map[string]status.Proxy, len(proxies))
	for _, p := range proxies {
		current[nodeKey(p)] = p
	}
	f.mu.Lock()
	before := f.connected
	f.connected = current
	f.mu.Unlock()
	for key, p := range before {
		if q, ok := current[key]; !ok || !q.ConnectedSince.Equal(p.ConnectedSince) {
			f.events.Publish(events.Event{Time: now, Kind: events.KindDisconnect, Proxy: key,
				Message: fmt.Sprintf("%s proxy left this replica", p.Flavour)})
		}
	}
	for key, p := range current {
		if q, ok := before[key]; !ok || !q.ConnectedSince.Equal(p.ConnectedSince) {
			f.events.Publish(events.Event{Time: p.ConnectedSince, Kind: events.KindConnect, Proxy: key,
				Message: fmt.Sprintf("%s proxy connected over %s xDS", p.Flavour, p.XDS)})
		}
	}
}

// forPeers bounds what an event carries to the other replicas.
func forPeers(e events.Event) events.Event {
	if n := len(e.Resources); n > fleetEventItems {
		e.Resources = append(e.Resources[:fleetEventItems:fleetEventItems], fmt.Sprintf("(%d more on replica %s)", n-fleetEventItems, e.Replica))
	}
	if e.Refusal != nil && len(e.Refusal.Problems) > fleetEventItems {
		r := *e.Refusal
		r.Problems = r.Problems[:fleetEventItems]
		e.Refusal = &r
	}
	return e
}

// noteAcks publishes an ack event for each push of this replica that
// every proxy it changed has acknowledged since the last report: one
// event per push, however many proxies, so a busy fleet's events stay
// readable. A push that changed no proxy has none.
func (f *fleet) noteAcks(r rollout.Report) {
	f.mu.Lock()
	defer f.mu.Unlock()
	announced := make(map[int64]bool, len(r.Pushes))
	for _, p := range r.Pushes {
		if f.acked[p.Revision] {
			announced[p.Revision] = true
			continue
		}
		c, _ := r.Change(p.Revision)
		if c.State != rollout.Converged || len(c.Proxies) == 0 {
			continue
		}
		announced[p.Revision] = true
		f.events.Publish(events.Event{Time: c.ConvergedAt, Kind: events.KindAck, Revision: p.Revision, Proxies: len(c.Proxies),
			DurationSeconds: c.ConvergenceSeconds, Message: fmt.Sprintf("every proxy the push of revision %d changed on this replica acknowledged it", p.Revision)})
	}
	f.acked = announced
}
