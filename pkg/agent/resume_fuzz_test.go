package agent

import (
	"crypto"
	"os"
	"path/filepath"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/dataplane"
)

// FuzzLoadPEMFiles feeds LoadPEMFiles' parser whatever a damaged or tampered
// socket dir may hold: it must never panic, and must accept only a valid
// SVID whose key is its own.
func FuzzLoadPEMFiles(f *testing.F) {
	ca := newTestCA(f)
	id := ca.issue(f, testID, time.Hour)
	good := f.TempDir()
	if err := WritePEMFiles(good, id); err != nil {
		f.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(good, name))
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	chain, keyPEM, bundle := read(dataplane.CertFile), read(dataplane.KeyFile), read(dataplane.BundleFile)
	f.Add(chain, keyPEM, bundle)
	f.Add(chain, keyPEM, []byte{})
	f.Add(bundle, keyPEM, chain)
	f.Add(chain[:len(chain)/2], keyPEM, bundle)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), keyPEM, bundle)
	now := time.Now()
	f.Fuzz(func(t *testing.T, chain, key, bundle []byte) {
		got, roots, err := parsePEMFiles(chain, key, bundle, nil, now)
		if err != nil {
			return
		}
		leaf := got.Certificates[0]
		if !now.Before(leaf.NotAfter) || now.Before(leaf.NotBefore) || len(roots) == 0 {
			t.Fatalf("accepted an SVID that is not valid now, or without roots: %s..%s, %d roots", leaf.NotBefore, leaf.NotAfter, len(roots))
		}
		pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !pub.Equal(got.PrivateKey.Public()) {
			t.Fatal("accepted a key that is not the leaf's")
		}
	})
}
