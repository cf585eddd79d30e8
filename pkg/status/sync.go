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
var severity = map[string]int{SyncNotSent: 0, SyncSynced: 1, SyncPending: 2, SyncStale: 3, SyncNacked: 4}

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
