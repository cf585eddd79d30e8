package status

import "time"

// Sync states of one xDS type on one proxy, as istioctl proxy-status
// names them.
const (
	// SyncSynced: the proxy acked the version last sent.
	SyncSynced = "SYNCED"
	// SyncNacked: the proxy rejected a response after its last ack.
	SyncNacked = "NACKED"
	// SyncStale: a version was sent and not acked within the stale bound.
	SyncStale = "STALE"
	// SyncPending: a version was sent moments ago; the ack is on its way.
	SyncPending = "PENDING"
	// SyncNotSent: nothing of the type was sent.
	SyncNotSent = "NOT_SENT"
	// SyncNoWorkload: nothing was sent to an agent whose node id names no
	// Workload of the mesh (a client-only app's agent, or one whose
	// registration is not in yet). No policy can target it, and the
	// control plane holds its bundles back rather than tell it that none
	// apply, so this is not a sync problem.
	SyncNoWorkload = "NO_WORKLOAD"
)

// DefaultStaleAfter is how long a sent version may wait for its ack
// before it counts as stale.
const DefaultStaleAfter = 10 * time.Second

// SyncStateOf judges one type's state at now.
func SyncStateOf(ts TypeStatus, now time.Time, staleAfter time.Duration) string {
	switch {
	case ts.VersionSent == "":
		return SyncNotSent
	case ts.LastNack != nil && ts.LastNack.Time.After(ts.AckedAt):
		return SyncNacked
	case ts.VersionAcked == ts.VersionSent:
		return SyncSynced
	case now.Sub(ts.SentAt) > staleAfter:
		return SyncStale
	default:
		return SyncPending
	}
}

// severity orders states from best to worst for a proxy's overall state.
var severity = map[string]int{SyncNotSent: 0, SyncNoWorkload: 0, SyncSynced: 1, SyncPending: 2, SyncStale: 3, SyncNacked: 4}

// Judge fills the sync state of every type of p and p's overall state
// (the worst of its types').
func Judge(p *Proxy, now time.Time, staleAfter time.Duration) {
	worst := SyncNotSent
	for url, ts := range p.Types {
		ts.SyncState = SyncStateOf(ts, now, staleAfter)
		p.Types[url] = ts
		if severity[ts.SyncState] > severity[worst] {
			worst = ts.SyncState
		}
	}
	p.SyncState = worst
}

// MarkNoWorkload turns every NOT_SENT type of p, an agent whose node id
// names no Workload of the mesh, into NO_WORKLOAD, and p's overall state
// with them; call it after Judge. Types that were sent keep their state.
func MarkNoWorkload(p *Proxy) {
	for url, ts := range p.Types {
		if ts.SyncState == SyncNotSent {
			ts.SyncState = SyncNoWorkload
			p.Types[url] = ts
		}
	}
	if p.SyncState == SyncNotSent {
		p.SyncState = SyncNoWorkload
	}
}
