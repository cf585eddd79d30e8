package store_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/internal/etcdtest"
	"embassy.dev/embassy/internal/nettest"
	"embassy.dev/embassy/pkg/store"
)

// peerPKI is a CA and one certificate it signed for 127.0.0.1, in PEM
// files, as members would be given them.
type peerPKI struct{ ca, cert, key string }

// newPeerPKI writes a new CA and a member certificate into dir.
func newPeerPKI(t *testing.T, dir string) peerPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "peer CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "member"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caTmpl, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := peerPKI{ca: filepath.Join(dir, "ca.pem"), cert: filepath.Join(dir, "member.pem"), key: filepath.Join(dir, "member-key.pem")}
	for path, block := range map[string]*pem.Block{p.ca: {Type: "CERTIFICATE", Bytes: caDER}, p.cert: {Type: "CERTIFICATE", Bytes: leafDER},
		p.key: {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// startTLSMembers starts one member per PKI at once (each waits for a
// quorum) with https peer URLs, and returns what each start returned.
func startTLSMembers(t *testing.T, pkis []peerPKI, timeout time.Duration) ([]*store.Member, []error) {
	t.Helper()
	peers := make([]store.Peer, len(pkis))
	for i := range peers {
		peers[i] = store.Peer{Name: fmt.Sprintf("m%d", i), URL: "https://" + nettest.FreeAddr(t)}
	}
	type result struct {
		i   int
		m   *store.Member
		err error
	}
	results := make(chan result, len(pkis))
	for i, p := range pkis {
		go func() {
			m, err := store.StartMember(context.Background(), store.EmbedConfig{Name: peers[i].Name, Dir: t.TempDir(), Peers: peers,
				ClientURL: "http://127.0.0.1:0", LogLevel: "fatal", ReadyTimeout: timeout,
				PeerCertFile: p.cert, PeerKeyFile: p.key, PeerCAFile: p.ca})
			results <- result{i, m, err}
		}()
	}
	ms, errs := make([]*store.Member, len(pkis)), make([]error, len(pkis))
	for range pkis {
		r := <-results
		ms[r.i], errs[r.i] = r.m, r.err
		if r.m != nil {
			t.Cleanup(r.m.Close)
		}
	}
	return ms, errs
}

func TestEmbeddedMembersTalkMutualTLS(t *testing.T) {
	pki := newPeerPKI(t, t.TempDir())
	ms, errs := startTLSMembers(t, []peerPKI{pki, pki, pki}, 60*time.Second)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
	}
	prefix := etcdtest.Config().Prefix
	a := etcdtest.Open(t, store.EtcdConfig{Endpoints: []string{ms[0].ClientURL()}, Prefix: prefix})
	b := etcdtest.Open(t, store.EtcdConfig{Endpoints: []string{ms[2].ClientURL()}, Prefix: prefix})
	svc := service("default", "a", 80)
	mustCommit(t, a, put(svc))
	if _, err := b.Get(context.Background(), svc.Key()); err != nil {
		t.Fatalf("a commit through member 0 is not read through member 2: %v", err)
	}
}

func TestEmbeddedMemberRefusesAPeerOfAnotherCA(t *testing.T) {
	ours, theirs := newPeerPKI(t, t.TempDir()), newPeerPKI(t, t.TempDir())
	// Two members, so neither has a quorum without the other: a member
	// whose certificate another CA signed is never let in.
	_, errs := startTLSMembers(t, []peerPKI{ours, theirs}, 5*time.Second)
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "did not join a quorum") {
			t.Errorf("member %d: %v, want it refused a quorum", i, err)
		}
	}
}

func TestEmbeddedMemberRefusesHalfConfiguredPeerTLS(t *testing.T) {
	pki := newPeerPKI(t, t.TempDir())
	cases := map[string]store.EmbedConfig{
		"https without certificates": {Peers: []store.Peer{{Name: "m0", URL: "https://127.0.0.1:1"}}},
		"certificates over http":     {Peers: []store.Peer{{Name: "m0", URL: "http://127.0.0.1:1"}}, PeerCertFile: pki.cert, PeerKeyFile: pki.key, PeerCAFile: pki.ca},
		"no CA":                      {Peers: []store.Peer{{Name: "m0", URL: "https://127.0.0.1:1"}}, PeerCertFile: pki.cert, PeerKeyFile: pki.key},
	}
	for name, cfg := range cases {
		cfg.Name, cfg.Dir = "m0", filepath.Join(t.TempDir(), "member")
		_, err := store.StartMember(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), "--etcd-peer") {
			t.Errorf("%s: %v, want an error naming the --etcd-peer flags", name, err)
		}
		if _, serr := os.Stat(cfg.Dir); serr == nil {
			t.Errorf("%s: a refused member made its dir", name)
		}
	}
}
