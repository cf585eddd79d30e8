package store

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// Peer is one member of an embedded etcd cluster: its name and the URL
// other members reach it on.
type Peer struct {
	Name string
	URL  string
}

// peerName is what etcd accepts, and what a shell passes without quoting.
var peerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// ParsePeers reads --etcd-peers, "name=URL,name=URL,...": every member of
// the embedded cluster, this one included. URLs are http:// or https://
// with a host and a port and nothing else; names and URLs are unique.
func ParsePeers(s string) ([]Peer, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("--etcd-peers is empty: list every member as name=http://host:port, comma-separated, this one included")
	}
	var out []Peer
	names, urls := map[string]bool{}, map[string]bool{}
	for i, item := range strings.Split(s, ",") {
		p, err := parsePeer(strings.TrimSpace(item))
		if err != nil {
			return nil, fmt.Errorf("--etcd-peers item %d (%q): %w", i+1, item, err)
		}
		if names[p.Name] || urls[p.URL] {
			return nil, fmt.Errorf("--etcd-peers item %d (%q): the name or URL is listed twice: give each member once", i+1, item)
		}
		names[p.Name], urls[p.URL] = true, true
		out = append(out, p)
	}
	return out, nil
}

// parsePeer reads one "name=URL".
func parsePeer(item string) (Peer, error) {
	name, raw, ok := strings.Cut(item, "=")
	if !ok {
		return Peer{}, fmt.Errorf("want name=http://host:port")
	}
	if !peerName.MatchString(name) {
		return Peer{}, fmt.Errorf("member name %q: use letters, digits, '.', '_' or '-' (at most 63), starting with a letter or digit", name)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Peer{}, fmt.Errorf("peer URL %q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Peer{}, fmt.Errorf("peer URL %q: the scheme must be http or https", raw)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" || port == "" {
		return Peer{}, fmt.Errorf("peer URL %q: it needs a host and a port, like http://127.0.0.1:2380", raw)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return Peer{}, fmt.Errorf("peer URL %q: give only scheme, host and port", raw)
	}
	return Peer{Name: name, URL: u.Scheme + "://" + u.Host}, nil
}

// formatPeers is the inverse of ParsePeers, and etcd's --initial-cluster.
func formatPeers(peers []Peer) string {
	parts := make([]string, len(peers))
	for i, p := range peers {
		parts[i] = p.Name + "=" + p.URL
	}
	return strings.Join(parts, ",")
}
