package agent

import (
	"testing"

	"embassy.dev/embassy/pkg/bootstrap"
)

// The bootstraps name the agent's socket, files and secrets; they must be
// the ones the agent serves.
func TestNamesMatchTheBootstraps(t *testing.T) {
	for _, p := range [][2]string{
		{SDSSocket, bootstrap.SDSSocket},
		{CertFile, bootstrap.CertFile},
		{KeyFile, bootstrap.KeyFile},
		{BundleFile, bootstrap.BundleFile},
		{SecretCert, bootstrap.SecretCert},
		{SecretRootCA, bootstrap.SecretRootCA},
	} {
		if p[0] != p[1] {
			t.Errorf("the agent serves %q, the bootstraps name %q", p[0], p[1])
		}
	}
}
