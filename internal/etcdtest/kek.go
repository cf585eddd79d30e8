package etcdtest

import (
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"embassy.dev/embassy/pkg/identity"
)

// KEKFile writes a new key-encryption key file (mode 0600) into the
// test's temp dir, for embassy-cp's --ca-key-encryption-key-file, which
// the etcd store requires. Replicas of one store share one file.
func KEKFile(t testing.TB) string {
	t.Helper()
	key := make([]byte, identity.KEKSize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.kek")
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
