package agent

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"embassy.dev/embassy/pkg/identity/client"
	"embassy.dev/embassy/pkg/spiffe"
)

// DialPolicyXDS returns an XDSDialFunc for the control plane's xDS server
// at addr (the --cp address): mTLS presenting the identity's SVID, and
// trusting the server only when its chain verifies against the
// identity's roots (seed before the first bundle) and its SPIFFE ID is
// the control plane's, as the identity client does. Host names are not
// checked, so any address of the control plane works.
func DialPolicyXDS(addr string, seed []*x509.Certificate) XDSDialFunc {
	return func(_ context.Context, id *Identity) (*grpc.ClientConn, error) {
		if id.SVID == nil {
			return nil, errors.New("no SVID to present to the control plane")
		}
		roots := id.Roots
		if len(roots) == 0 {
			roots = seed
		}
		if len(roots) == 0 {
			return nil, errors.New("no trust bundle to verify the control plane with")
		}
		// go-spiffe verifies the server by its SPIFFE ID, not by host name.
		cfg := tlsconfig.MTLSClientConfig(id.SVID, x509bundle.FromX509Authorities(id.ID.TrustDomain(), roots), spiffe.AuthorizeControlPlane())
		// Several replicas' addresses are one channel that fails over.
		target, opts, err := client.ControlPlaneTarget(addr)
		if err != nil {
			return nil, err
		}
		conn, err := grpc.NewClient(target, append(opts,
			grpc.WithTransportCredentials(credentials.NewTLS(cfg)),
			// A control plane that vanished without closing the connection
			// is noticed within a minute; embassy-cp allows pings every 10s.
			grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 20 * time.Second}))...)
		if err != nil {
			return nil, fmt.Errorf("policy stream to %s: %w", addr, err)
		}
		return conn, nil
	}
}
