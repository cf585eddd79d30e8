package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
)

// Defaults of an embedded member.
const (
	// DefaultEtcdClientURL is where an embedded member serves its clients
	// (the control plane itself): loopback only.
	DefaultEtcdClientURL = "http://127.0.0.1:2379"
	// DefaultEtcdReadyTimeout bounds the wait at start for the member to
	// join a quorum, which needs a majority of --etcd-peers to run.
	DefaultEtcdReadyTimeout = time.Minute
	// etcdClusterToken keeps members of an Embassy cluster from joining
	// another etcd cluster that happens to share peer URLs.
	etcdClusterToken = "embassy"
	// etcdCompactionRetention is how much history the embedded cluster
	// keeps: watches that fall further behind relist (see follow).
	etcdCompactionRetention = "1h"
)

// EmbedConfig says how to run an etcd member inside embassy-cp, so that
// replicas form their own etcd cluster with no database to operate.
type EmbedConfig struct {
	// Name is this member's name; it must be one of Peers.
	Name string
	// Dir holds the member's data (<data-dir>/etcd for embassy-cp).
	Dir string
	// Peers lists every member, this one included (see ParsePeers).
	Peers []Peer
	// ClientURL is where the member serves clients (DefaultEtcdClientURL
	// when ""); port 0 picks a free port.
	ClientURL string
	// LogLevel is etcd's log level ("warn" when "").
	LogLevel string
	// ReadyTimeout bounds the wait for a quorum (DefaultEtcdReadyTimeout
	// when 0).
	ReadyTimeout time.Duration
	// PeerCertFile, PeerKeyFile and PeerCAFile secure the members' Raft
	// traffic with mutual TLS: each member presents the certificate and
	// accepts only peers whose certificate PeerCAFile signed. They go
	// with https:// peer URLs.
	PeerCertFile, PeerKeyFile, PeerCAFile string
}

// Member is a running embedded etcd member.
type Member struct {
	etcd      *embed.Etcd
	clientURL string
	closeOnce sync.Once
}

// StartMember starts the member and returns once it is part of a cluster
// with a leader. On a new Dir it forms the cluster of Peers with the
// others; on a Dir that holds a member already, it rejoins.
func StartMember(ctx context.Context, c EmbedConfig) (*Member, error) {
	cfg, err := c.etcdConfig()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the etcd member's dir %s: %w", c.Dir, err)
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start the embedded etcd member %s (dir %s): %w", c.Name, c.Dir, err)
	}
	timeout := c.ReadyTimeout
	if timeout <= 0 {
		timeout = DefaultEtcdReadyTimeout
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		abort(e)
		return nil, fmt.Errorf("the embedded etcd member %s failed: %w", c.Name, err)
	case <-ctx.Done():
		abort(e)
		return nil, ctx.Err()
	case <-time.After(timeout):
		abort(e)
		return nil, fmt.Errorf("the embedded etcd member %s did not join a quorum within %v: start a majority of the members of --etcd-peers %s",
			c.Name, timeout, formatPeers(c.Peers))
	}
	return &Member{etcd: e, clientURL: "http://" + e.Clients[0].Addr().String()}, nil
}

// abort stops a member that never became ready. embed's Close alone waits
// for client serving to start, which happens only once the member is
// ready, so the server is stopped first, which ends that wait.
func abort(e *embed.Etcd) {
	e.Server.HardStop()
	e.Close()
}

// etcdConfig checks c and turns it into etcd's configuration.
func (c EmbedConfig) etcdConfig() (*embed.Config, error) {
	if c.Dir == "" {
		return nil, errors.New("the embedded etcd member needs a dir: pass --data-dir")
	}
	self := ""
	for _, p := range c.Peers {
		if p.Name == c.Name {
			self = p.URL
		}
	}
	if self == "" {
		return nil, fmt.Errorf("--etcd-name %q is not one of --etcd-peers %s: name this member as it is listed there", c.Name, formatPeers(c.Peers))
	}
	peerURL, err := url.Parse(self)
	if err != nil {
		return nil, fmt.Errorf("--etcd-peers: %s: %w", self, err)
	}
	clientRaw := c.ClientURL
	if clientRaw == "" {
		clientRaw = DefaultEtcdClientURL
	}
	clientURL, err := url.Parse(clientRaw)
	if err != nil || clientURL.Scheme != "http" || clientURL.Port() == "" {
		return nil, fmt.Errorf("--etcd-client-url %q: want http://host:port, like %s", clientRaw, DefaultEtcdClientURL)
	}
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = c.Name, c.Dir
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peerURL}, []url.URL{*peerURL}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*clientURL}, []url.URL{*clientURL}
	cfg.InitialCluster = formatPeers(c.Peers)
	cfg.InitialClusterToken = etcdClusterToken
	cfg.AutoCompactionMode, cfg.AutoCompactionRetention = embed.CompactorModePeriodic, etcdCompactionRetention
	cfg.LogLevel = c.LogLevel
	if cfg.LogLevel == "" {
		cfg.LogLevel = "warn"
	}
	if err := c.peerTLS(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// peerTLS sets up mutual TLS between members, refusing a half-configured
// one: https peers without certificates, or certificates over http.
func (c EmbedConfig) peerTLS(cfg *embed.Config) error {
	set := c.PeerCertFile != "" || c.PeerKeyFile != "" || c.PeerCAFile != ""
	if set && (c.PeerCertFile == "" || c.PeerKeyFile == "" || c.PeerCAFile == "") {
		return errors.New("--etcd-peer-cert, --etcd-peer-key and --etcd-peer-ca go together: pass all three")
	}
	for _, p := range c.Peers {
		if https := strings.HasPrefix(p.URL, "https://"); https != set {
			return fmt.Errorf("--etcd-peers %s=%s: use https:// peer URLs exactly when --etcd-peer-cert, --etcd-peer-key and --etcd-peer-ca are given", p.Name, p.URL)
		}
	}
	if set {
		cfg.PeerTLSInfo = transport.TLSInfo{CertFile: c.PeerCertFile, KeyFile: c.PeerKeyFile, TrustedCAFile: c.PeerCAFile, ClientCertAuth: true}
	}
	return nil
}

// ClientURL is where the member serves clients.
func (m *Member) ClientURL() string { return m.clientURL }

// Close stops the member; a second Close does nothing.
func (m *Member) Close() { m.closeOnce.Do(m.etcd.Close) }
