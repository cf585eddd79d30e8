package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/internal/etcdtest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/internal/syncbuf"
	"embassy.dev/embassy/pkg/client"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/store"
)

// serviceFile is an apply of one Service.
func serviceFile(name string) []client.File {
	return []client.File{{Name: name + ".yaml", Content: fmt.Sprintf(`apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: %s, namespace: default}
spec:
  ports: [{name: http, port: 80, protocol: http}]
`, name)}}
}

// readyz returns /readyz's status and body.
func readyz(t *testing.T, cp *ControlPlane) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + cp.APIAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEtcdStoreDownRefusesWritesWith503AndRecovers(t *testing.T) {
	m := etcdtest.Start(t)
	p := etcdtest.NewProxy(t, strings.TrimPrefix(m.ClientURL(), "http://"))
	ecfg := etcdtest.Config(p.URL())
	ecfg.RequestTimeout = time.Second
	dir := t.TempDir()
	cp := startCP(t, dir, &syncbuf.Buffer{}, func(c *Config) { c.Store, c.Etcd, c.CAKeyEncryptionKeyFile = "etcd", ecfg, etcdtest.KEKFile(t) })
	defer cp.Close()
	c := adminClient(t, cp, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Apply(ctx, serviceFile("before"), false); err != nil {
		t.Fatalf("apply with etcd up: %v", err)
	}
	if code, body := readyz(t, cp); code != http.StatusOK {
		t.Fatalf("/readyz with etcd up = %d %s", code, body)
	}

	p.Cut()
	_, err := c.Apply(ctx, serviceFile("during"), false)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.StatusCode != http.StatusServiceUnavailable || !strings.Contains(ce.Message, "etcd store") || !strings.Contains(ce.Message, "refused") {
		t.Fatalf("apply with etcd cut off = %v, want a 503 saying the etcd store does not answer", err)
	}
	if code, body := readyz(t, cp); code != http.StatusServiceUnavailable || !strings.Contains(body, "etcd store") {
		t.Fatalf("/readyz with etcd cut off = %d %s, want 503 naming the etcd store", code, body)
	}

	p.Heal()
	poll.Until(t, "/readyz to recover", func() bool { code, _ := readyz(t, cp); return code == http.StatusOK })
	res, err := c.Apply(ctx, serviceFile("after"), false)
	if err != nil {
		t.Fatalf("apply after etcd is back: %v", err)
	}
	list, _, err := cp.Store().List(ctx, "Service")
	if err != nil || len(list) != 2 || res.Revision != 2 {
		t.Fatalf("after recovery the store holds %d Services at revision %d (%v); want before and after, revision 2", len(list), res.Revision, err)
	}
}

func TestEtcdStoreBackupThroughTheAPI(t *testing.T) {
	m := etcdtest.Start(t)
	dir := t.TempDir()
	cp := startCP(t, dir, &syncbuf.Buffer{}, func(c *Config) {
		c.Store, c.Etcd, c.CAKeyEncryptionKeyFile = "etcd", etcdtest.Config(m.ClientURL()), etcdtest.KEKFile(t)
	})
	defer cp.Close()
	c := adminClient(t, cp, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Apply(ctx, serviceFile("a"), false); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Backup(ctx, f)
	_ = f.Close()
	if err != nil || info.StoreID != cp.Store().(*store.Etcd).StoreID() || info.Revision != 1 {
		t.Fatalf("backup = %+v, %v; want the etcd store's id at revision 1", info, err)
	}
	// The copy is a whole store: its mesh CA and the Service applied.
	restored, err := store.OpenBolt(restoreInto(t, path))
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	if _, err := restored.GetSecret(identity.SecretRoots); err != nil {
		t.Errorf("the backup holds no mesh CA: %v", err)
	}
	if list, _, err := restored.List(ctx, "Service"); err != nil || len(list) != 1 {
		t.Errorf("the backup holds %d Services, %v; want 1", len(list), err)
	}
}

// restoreInto restores the backup at path into a new data dir.
func restoreInto(t *testing.T, path string) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := store.RestoreBolt(dir, path, false); err != nil {
		t.Fatal(err)
	}
	return dir
}
