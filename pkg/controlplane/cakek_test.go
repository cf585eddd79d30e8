package controlplane

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"embassy.dev/embassy/internal/etcdtest"
	"embassy.dev/embassy/internal/syncbuf"
	"embassy.dev/embassy/pkg/store"
)

// TestEtcdStoreKeepsTheCAKeySealed starts embassy-cp on etcd: without a
// key-encryption key it refuses to start, with one it stores no private
// key readable in etcd, and a restart with another key or a key file
// others may read is refused, naming the flag.
func TestEtcdStoreKeepsTheCAKeySealed(t *testing.T) {
	m := etcdtest.Start(t)
	shared := etcdtest.Config(m.ClientURL())
	etcdCfg := func(kek string) func(*Config) {
		return func(c *Config) { c.Store, c.Etcd, c.CAKeyEncryptionKeyFile = "etcd", shared, kek }
	}
	refused := func(what, kek, want string) {
		t.Helper()
		logs := &syncbuf.Buffer{}
		cp, err := Start(context.Background(), testConfig(t.TempDir(), logs, etcdCfg(kek)))
		if err == nil {
			cp.Close()
			t.Fatalf("%s: embassy-cp started:\n%s", what, logs.String())
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want it to say %q", what, err, want)
		}
	}
	refused("no key-encryption key", "", "needs --ca-key-encryption-key-file")

	kek := etcdtest.KEKFile(t)
	logs := &syncbuf.Buffer{}
	cp := startCP(t, t.TempDir(), logs, etcdCfg(kek))
	e := cp.Store().(*store.Etcd)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := e.Client().Get(ctx, e.Prefix(), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	sawCA := false
	for _, kv := range resp.Kvs {
		if bytes.Contains(kv.Value, []byte("PRIVATE KEY")) || bytes.Contains(kv.Value, []byte(`"key"`)) || bytes.Contains(kv.Value, []byte(`"jwtKey"`)) {
			t.Errorf("etcd key %s holds a private key in plaintext", kv.Key)
		}
		sawCA = sawCA || strings.HasSuffix(string(kv.Key), "/ca/roots")
	}
	if !sawCA {
		t.Fatal("no CA state in etcd: nothing was checked")
	}
	raw, _ := os.ReadFile(kek)
	if strings.Contains(logs.String(), strings.TrimSpace(string(raw))) {
		t.Error("the key-encryption key appears in the log")
	}
	cp.Close()

	refused("another key", etcdtest.KEKFile(t), "not the one in --ca-key-encryption-key-file")
	if err := os.Chmod(kek, 0o644); err != nil {
		t.Fatal(err)
	}
	refused("a key file others may read", kek, "chmod 600")
}
