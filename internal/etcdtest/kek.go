package etcdtest

import (
	"path/filepath"
	"testing"

	"embassy.dev/embassy/pkg/identity"
)

// KEKFile writes a new key-encryption key file (mode 0600) into the
// test's temp dir, for embassy-cp's --ca-key-encryption-key-file, which
// the etcd store requires. Replicas of one store share one file.
func KEKFile(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.kek")
	if err := identity.WriteNewKEKFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}
