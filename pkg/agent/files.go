package agent

import (
	"fmt"
	"os"
	"path/filepath"

	"embassy.dev/embassy/pkg/dataplane"
)

// WritePEMFiles writes the identity to dir for proxyless gRPC's
// file_watcher certificate provider: dataplane.KeyFile (0600), then dataplane.CertFile, then
// dataplane.BundleFile, each replaced atomically.
//
// The order: the key goes first so that the chain never names a key that
// is not yet on disk. A reader that lands between the two renames sees the
// new key with the old chain; gRPC's file_watcher refuses a pair whose
// keys differ and keeps the pair it had until its next refresh, so no
// handshake ever uses a mismatched pair and the window is one rename long.
// The bundle goes last: new roots are published before any certificate is
// signed by them, so the old bundle still verifies the new chain.
//
// Without an SVID (expired) the files are left as they are: the expired
// certificate in them fails every handshake on its own, and gRPC keeps the
// last good pair when the files disappear, so removing them would not stop
// it being used.
func WritePEMFiles(dir string, id *Identity) error {
	if id == nil || id.SVID == nil {
		return nil
	}
	key, err := id.KeyPEM()
	if err != nil {
		return fmt.Errorf("encoding the key: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
		mode uint32
	}{
		{dataplane.KeyFile, key, 0o600},
		{dataplane.CertFile, id.ChainPEM(), 0o644},
		{dataplane.BundleFile, id.BundlePEM(), 0o644},
	} {
		if err := WriteFileAtomic(filepath.Join(dir, f.name), f.data, os.FileMode(f.mode)); err != nil {
			return fmt.Errorf("writing %s: %w", f.name, err)
		}
	}
	return nil
}
