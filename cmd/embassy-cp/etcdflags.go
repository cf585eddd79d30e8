package main

import (
	"errors"
	"path/filepath"

	"github.com/spf13/pflag"

	"embassy.dev/embassy/pkg/store"
)

// etcdMemberDir is where an embedded etcd member keeps its data, inside
// --data-dir.
const etcdMemberDir = "etcd"

// etcdFlags are the flags of the etcd store, shared by embassy-cp and its
// restore command.
type etcdFlags struct {
	cfg       store.EtcdConfig
	embedded  bool
	name      string
	peers     string
	clientURL string
	// peerCert, peerKey and peerCA secure the members' traffic.
	peerCert, peerKey, peerCA string
}

// add registers the flags on f.
func (e *etcdFlags) add(f *pflag.FlagSet) {
	f.StringSliceVar(&e.cfg.Endpoints, "etcd-endpoints", nil, "etcd client URLs of the etcd store, comma-separated (http://host:port or https://host:port); default with --etcd-embedded: the embedded member's")
	f.StringVar(&e.cfg.CertFile, "etcd-cert", "", "PEM client certificate for TLS to etcd (with --etcd-key)")
	f.StringVar(&e.cfg.KeyFile, "etcd-key", "", "PEM private key of --etcd-cert")
	f.StringVar(&e.cfg.CAFile, "etcd-ca", "", "PEM CA bundle that signed etcd's server certificates")
	f.StringVar(&e.cfg.Prefix, "etcd-prefix", store.DefaultEtcdPrefix, "key prefix of the store in etcd; control planes sharing one store use the same prefix")
	f.DurationVar(&e.cfg.RequestTimeout, "etcd-timeout", store.DefaultEtcdRequestTimeout, "deadline of each etcd request: past it the store reports etcd unavailable (writes get 503)")
	f.IntVar(&e.cfg.MaxTxnOps, "etcd-max-txn-ops", store.DefaultEtcdMaxTxnOps, "etcd's --max-txn-ops: applies with more writes are split, still atomically")
	f.IntVar(&e.cfg.MaxRequestBytes, "etcd-max-request-bytes", store.DefaultEtcdMaxRequestBytes, "etcd's --max-request-bytes: applies larger than half of it are split, still atomically")
	f.BoolVar(&e.embedded, "etcd-embedded", false, "run an etcd member inside this process (data in <data-dir>/"+etcdMemberDir+"); replicas given the same --etcd-peers form one etcd cluster. Implies --store etcd")
	f.StringVar(&e.name, "etcd-name", "", "this replica's member name in --etcd-peers (default: the only name when --etcd-peers lists one)")
	f.StringVar(&e.peers, "etcd-peers", "", "every embedded member, this one included: name=http://host:port,... (peer URLs; all members need the same list)")
	f.StringVar(&e.peerCert, "etcd-peer-cert", "", "PEM certificate the embedded member presents to its peers (mutual TLS between members; with https:// --etcd-peers)")
	f.StringVar(&e.peerKey, "etcd-peer-key", "", "PEM private key of --etcd-peer-cert")
	f.StringVar(&e.peerCA, "etcd-peer-ca", "", "PEM CA that signed every member's --etcd-peer-cert; peers without such a certificate are refused")
	f.StringVar(&e.clientURL, "etcd-client-url", store.DefaultEtcdClientURL, "where the embedded member serves etcd clients; keep it on loopback unless other replicas or tools must reach it")
}

// storeKind resolves --store with --etcd-embedded, which implies etcd.
func (e *etcdFlags) storeKind(kind string, kindSet bool) (string, error) {
	if !e.embedded {
		return kind, nil
	}
	if kindSet && kind != "etcd" {
		return "", errors.New("--etcd-embedded runs the etcd store's own member: drop --store " + kind + " or pass --store etcd")
	}
	return "etcd", nil
}

// config is the store's configuration, with the embedded member's when
// --etcd-embedded is set.
func (e *etcdFlags) config(dataDir string) (store.EtcdConfig, error) {
	cfg := e.cfg
	if !e.embedded {
		if e.peers != "" || e.name != "" || e.peerCert != "" || e.peerKey != "" || e.peerCA != "" {
			return cfg, errors.New("--etcd-peers, --etcd-name and --etcd-peer-* configure the embedded member: add --etcd-embedded")
		}
		return cfg, nil
	}
	peers, err := store.ParsePeers(e.peers)
	if err != nil {
		return cfg, err
	}
	name := e.name
	if name == "" && len(peers) == 1 {
		name = peers[0].Name
	}
	if name == "" {
		return cfg, errors.New("--etcd-embedded with several --etcd-peers needs --etcd-name: which of them this replica is")
	}
	cfg.Embedded = &store.EmbedConfig{Name: name, Dir: filepath.Join(dataDir, etcdMemberDir), Peers: peers, ClientURL: e.clientURL,
		PeerCertFile: e.peerCert, PeerKeyFile: e.peerKey, PeerCAFile: e.peerCA}
	return cfg, nil
}
