package spiffe

import (
	"crypto/x509"
	"fmt"

	"embassy.dev/embassy/pkg/dataplane"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
)

// AuthorizeControlPlane accepts only the control plane of the server's own
// trust domain. go-spiffe's tlsconfig has verified the chain against the
// bundle source for that trust domain before it asks, so a source that
// holds one mesh's roots admits only that mesh's control plane.
func AuthorizeControlPlane() tlsconfig.Authorizer {
	return func(id spiffeid.ID, chains [][]*x509.Certificate) error {
		want := dataplane.ControlPlaneID(id.TrustDomain())
		if err := tlsconfig.AuthorizeID(want)(id, chains); err != nil {
			return fmt.Errorf("the server is %s, not the control plane (%s): %w", id, want, err)
		}
		return nil
	}
}
