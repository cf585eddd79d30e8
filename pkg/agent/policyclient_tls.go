package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

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
		cert := id.TLSCertificate()
		if cert == nil {
			return nil, errors.New("no SVID to present to the control plane")
		}
		roots := id.Roots
		if len(roots) == 0 {
			roots = seed
		}
		if len(roots) == 0 {
			return nil, errors.New("no trust bundle to verify the control plane with")
		}
		cfg := &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{*cert},
			// verifyControlPlane checks the chain and the SPIFFE ID; the
			// standard verifier would check a DNS name.
			InsecureSkipVerify:    true, //nolint:gosec // verified by SPIFFE ID below
			VerifyPeerCertificate: verifyControlPlane(id.ID.TrustDomain(), roots),
		}
		conn, err := grpc.NewClient(addr,
			grpc.WithTransportCredentials(credentials.NewTLS(cfg)),
			// A control plane that vanished without closing the connection
			// is noticed within a minute; embassy-cp allows pings every 10s.
			grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 20 * time.Second}))
		if err != nil {
			return nil, fmt.Errorf("policy stream to %s: %w", addr, err)
		}
		return conn, nil
	}
}

// verifyControlPlane accepts only a chain that verifies against roots with
// X.509-SVID rules and whose leaf is the control plane of td.
func verifyControlPlane(td spiffeid.TrustDomain, roots []*x509.Certificate) func([][]byte, [][]*x509.Certificate) error {
	bundle := x509bundle.FromX509Authorities(td, roots)
	want := spiffe.ControlPlaneID(td)
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("the control plane presented no certificate")
		}
		id, _, err := x509svid.ParseAndVerify(raw, bundle)
		if err != nil {
			return fmt.Errorf("the control plane's certificate does not verify against the trust bundle: %w", err)
		}
		if id != want {
			return fmt.Errorf("the server is %s, not the control plane (%s)", id, want)
		}
		return nil
	}
}
