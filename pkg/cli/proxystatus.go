package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/status"
)

// Sync states of one xDS type on one proxy; the server's, in pkg/status.
const (
	// Synced: the proxy acked the version last sent.
	Synced = status.SyncSynced
	// Nacked: the proxy rejected a response after its last ack.
	Nacked = status.SyncNacked
	// Stale: a version was sent and has not been acked for StaleAfter.
	Stale = status.SyncStale
	// Pending: a version was sent moments ago and the ack is not in yet.
	Pending = status.SyncPending
	// NotSent: nothing of the type was sent to the proxy.
	NotSent = status.SyncNotSent
)

// StaleAfter is the server's default bound, used only to judge a proxy
// from a server that sends no sync states of its own.
const StaleAfter = status.DefaultStaleAfter

// NotUsed is the cell of a type the proxy does not ask for (an agent's
// clusters, a sidecar's policy bundles, a proxyless server's clusters):
// nothing is missing there, unlike NOT_SENT.
const NotUsed = "-"

// routingFlavours are the flavours that ask for the routing types.
var routingFlavours = []string{dataplane.FlavourEnvoy, dataplane.FlavourProxyless}

// xdsColumns are the proxy-status columns, by the short name of the xDS
// resource type they show, with the flavours that ask for that type.
var xdsColumns = []struct {
	header, typeName string
	flavours         []string
}{
	{"CDS", "Cluster", routingFlavours},
	{"LDS", "Listener", routingFlavours},
	{"EDS", "ClusterLoadAssignment", routingFlavours},
	{"RDS", "RouteConfiguration", routingFlavours},
	// The authorization policy bundles an agent receives.
	{"AUTHZ", "TypedExtensionConfig", []string{dataplane.FlavourAgent}},
}

// unasked is the cell of a column's type the proxy never asked for. A
// flavour that never uses the type shows NotUsed; so does a proxyless app
// or an agent, which ask only for what they use (a server its listeners,
// a client its routes and clusters). An Envoy sidecar asks for every
// routing type, so one it has not asked for is NOT_SENT, as is any type
// of a flavour this table does not know.
func unasked(flavour string, flavours []string) string {
	switch {
	case flavour != dataplane.FlavourEnvoy && flavour != dataplane.FlavourProxyless && flavour != dataplane.FlavourAgent:
		return NotSent
	case !slices.Contains(flavours, flavour), flavour != dataplane.FlavourEnvoy:
		return NotUsed
	}
	return NotSent
}

// SyncState is one type's state: the server's when it sent one,
// otherwise judged at now with the same rule the server uses.
func SyncState(ts status.TypeStatus, now time.Time) string {
	if ts.SyncState != "" {
		return ts.SyncState
	}
	return status.SyncStateOf(ts, now, StaleAfter)
}

// ProxySync is one proxy with the judged state of each column's type.
type ProxySync struct {
	status.Proxy
	// Sync maps CDS, LDS, EDS, RDS and AUTHZ to a sync state.
	Sync map[string]string `json:"sync"`
}

// JudgeProxies computes every proxy's per-type sync state at now.
func JudgeProxies(ps []status.Proxy, now time.Time) []ProxySync {
	out := make([]ProxySync, len(ps))
	for i, p := range ps {
		out[i] = ProxySync{Proxy: p, Sync: map[string]string{}}
		for _, c := range xdsColumns {
			out[i].Sync[c.header] = unasked(p.Flavour, c.flavours)
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

// ProxyStatusOptions shape PrintProxyStatusWith's output.
type ProxyStatusOptions struct {
	// Colour paints the states (green SYNCED, red NACKED, yellow STALE);
	// for terminals only.
	Colour bool
	// Width is the terminal's width (0: no limit); see TableOptions.
	Width int
}

// PrintProxyStatus writes the proxies as a table, JSON or YAML.
func PrintProxyStatus(w io.Writer, format string, ps []status.Proxy, now time.Time) error {
	return PrintProxyStatusWith(w, format, ps, now, ProxyStatusOptions{})
}

// PrintProxyStatusWith writes the proxies as a table, JSON or YAML.
func PrintProxyStatusWith(w io.Writer, format string, ps []status.Proxy, now time.Time, o ProxyStatusOptions) error {
	judged := JudgeProxies(ps, now)
	switch format {
	case OutputJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"proxies": judged})
	case OutputYAML:
		b, err := yaml.Marshal(map[string]any{"proxies": judged})
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	case OutputTable:
	default:
		return fmt.Errorf("unknown output format %q: use -o table, -o json or -o yaml", format)
	}
	headers := []string{"ID", "FLAVOUR", "XDS"}
	for _, c := range xdsColumns {
		headers = append(headers, c.header)
	}
	t := &table{headers: headers, gap: 2, paint: paintSyncColumn}
	for _, p := range judged {
		row := []string{p.ID, orDash(p.Flavour), orDash(p.XDS)}
		for _, c := range xdsColumns {
			row = append(row, p.Sync[c.header])
		}
		t.rows = append(t.rows, row)
	}
	return t.write(w, TableOptions{Width: o.Width, Colour: o.Colour})
}

// paintSyncColumn colours the sync-state columns (from the fourth on).
func paintSyncColumn(col int, cell string) string {
	if col < 3 {
		return ""
	}
	return stateColour(cell)
}

// Unhealthy lists "<proxy> <column> <state>" for every type that is
// NACKED or STALE, for proxy-status --check.
func Unhealthy(ps []status.Proxy, now time.Time) []string {
	var out []string
	for _, p := range JudgeProxies(ps, now) {
		for _, c := range xdsColumns {
			if st := p.Sync[c.header]; st == Nacked || st == Stale {
				out = append(out, p.ID+" "+c.header+" "+st)
			}
		}
		for url, ts := range p.Types {
			if st := SyncState(ts, now); (st == Nacked || st == Stale) && !isColumn(url) {
				out = append(out, p.ID+" "+url+" "+st)
			}
		}
	}
	return out
}

func isColumn(url string) bool {
	name := url[strings.LastIndex(url, ".")+1:]
	for _, c := range xdsColumns {
		if c.typeName == name {
			return true
		}
	}
	return false
}

// ANSI colours of the states.
const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
)

// stateColour is the colour of a state word wherever a table shows one:
// green for healthy, red for failed, yellow for waiting, none otherwise.
func stateColour(state string) string {
	switch state {
	case Synced, "valid", "active", "allow", "compiled":
		return ansiGreen
	case Nacked, "revoked", "expired", "error", "deny", "nack":
		return ansiRed
	case Stale, Pending, "used", "dry-run", "would-deny":
		return ansiYellow
	}
	return ""
}

// PrintNacks writes each type's last NACK of the proxies, one line each,
// for proxy-status ID: the table says NACKED, this says why. A NACK since
// acked is printed too, marked so, since it may explain a past outage.
func PrintNacks(w io.Writer, ps []status.Proxy) {
	for _, p := range ps {
		urls := make([]string, 0, len(p.Types))
		for url := range p.Types {
			urls = append(urls, url)
		}
		slices.Sort(urls)
		for _, url := range urls {
			ts := p.Types[url]
			if ts.LastNack == nil {
				continue
			}
			since := ""
			if ts.VersionAcked != "" && ts.AckedAt.After(ts.LastNack.Time) {
				since = " (acked version " + ts.VersionAcked + " since)"
			}
			fmt.Fprintf(w, "\n%s %s %s rejected version %s at %s%s:\n  %s\n", p.ID, orDash(p.Flavour), url[strings.LastIndex(url, ".")+1:],
				ts.LastNack.Version, ts.LastNack.Time.UTC().Format(time.RFC3339), since, ts.LastNack.Message)
		}
	}
}
