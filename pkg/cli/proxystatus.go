package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"embassy.dev/embassy/pkg/status"
)

// Sync states of one xDS type on one proxy.
const (
	// Synced: the proxy acked the version last sent.
	Synced = "SYNCED"
	// Nacked: the proxy rejected a response after its last ack.
	Nacked = "NACKED"
	// Stale: a version was sent and has not been acked for StaleAfter.
	Stale = "STALE"
	// Pending: a version was sent moments ago and the ack is not in yet.
	Pending = "PENDING"
	// NotSent: nothing of the type was sent to the proxy.
	NotSent = "NOT_SENT"
)

// StaleAfter is how long a sent version may wait for its ack before the
// proxy counts as stale.
const StaleAfter = 5 * time.Second

// xdsColumns are the proxy-status columns, by the short name of the xDS
// resource type they show.
var xdsColumns = []struct{ header, typeName string }{
	{"CDS", "Cluster"},
	{"LDS", "Listener"},
	{"EDS", "ClusterLoadAssignment"},
	{"RDS", "RouteConfiguration"},
}

// SyncState judges one type's state at now.
func SyncState(ts status.TypeStatus, now time.Time) string {
	switch {
	case ts.VersionSent == "":
		return NotSent
	case ts.LastNack != nil && ts.LastNack.Time.After(ts.AckedAt):
		return Nacked
	case ts.VersionAcked == ts.VersionSent:
		return Synced
	case now.Sub(ts.SentAt) > StaleAfter:
		return Stale
	default:
		return Pending
	}
}

// ProxySync is one proxy with the judged state of each column's type.
type ProxySync struct {
	status.Proxy
	// Sync maps CDS, LDS, EDS and RDS to a sync state.
	Sync map[string]string `json:"sync"`
}

// JudgeProxies computes every proxy's per-type sync state at now.
func JudgeProxies(ps []status.Proxy, now time.Time) []ProxySync {
	out := make([]ProxySync, len(ps))
	for i, p := range ps {
		out[i] = ProxySync{Proxy: p, Sync: map[string]string{}}
		for _, c := range xdsColumns {
			out[i].Sync[c.header] = NotSent
		}
		for url, ts := range p.Types {
			name := url[strings.LastIndex(url, ".")+1:]
			for _, c := range xdsColumns {
				if c.typeName == name {
					out[i].Sync[c.header] = SyncState(ts, now)
				}
			}
		}
	}
	return out
}

// PrintProxyStatus writes the proxies as a table or as JSON.
func PrintProxyStatus(w io.Writer, format string, ps []status.Proxy, now time.Time) error {
	judged := JudgeProxies(ps, now)
	switch format {
	case OutputJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"proxies": judged})
	case OutputTable:
	default:
		return fmt.Errorf("unknown output format %q: use -o table or -o json", format)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "ID\tFLAVOUR\tXDS\tCDS\tLDS\tEDS\tRDS")
	for _, p := range judged {
		fmt.Fprintf(tw, "%s\t%s\t%s", p.ID, orDash(p.Flavour), orDash(p.XDS))
		for _, c := range xdsColumns {
			fmt.Fprintf(tw, "\t%s", p.Sync[c.header])
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}
