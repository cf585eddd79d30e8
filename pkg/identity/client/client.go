// Package client is the agent's side of the identity service: it calls
// embassy-cp's Attest, Renew, Register, Deregister, MintJWT, Bundle and
// ReportAuthz over gRPC with TLS, trusting the server only when its
// certificate chains to the mesh's trust bundle and names the control
// plane's SPIFFE ID.
package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"embassy.dev/embassy/pkg/identity/wire"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/spiffe"
)

// Client calls one control plane's identity service. It is safe for
// concurrent use.
type Client struct {
	conn   *grpc.ClientConn
	api    wire.IdentityClient
	bundle atomic.Pointer[[]*x509.Certificate]
}

// Dial returns a client for the identity service at addr (host:port, or
// several replicas' separated by commas: see ControlPlaneTarget). The
// server must present a certificate that chains to one of trustBundle's
// roots and whose SPIFFE ID is the control plane's; host names are not
// checked, so any address of the control plane works. cert, when not nil,
// is called on every new connection for the certificate to present (nil
// or an empty certificate presents none, which only Attest and Bundle
// accept). The connection is made lazily, on the first call.
func Dial(addr string, trustBundle []*x509.Certificate, cert func() *tls.Certificate) (*Client, error) {
	if len(trustBundle) == 0 {
		return nil, errors.New("identity client: the trust bundle is empty: pass the control plane's roots (embassyctl bundle > bundle.pem)")
	}
	c := &Client{}
	c.SetTrustBundle(trustBundle)
	// go-spiffe verifies the server by its SPIFFE ID, not by host name.
	cfg := tlsconfig.TLSClientConfig(c, spiffe.AuthorizeControlPlane())
	verify := cfg.VerifyPeerCertificate
	cfg.VerifyPeerCertificate = func(raw [][]byte, chains [][]*x509.Certificate) error {
		if err := verify(raw, chains); err != nil {
			return fmt.Errorf("the control plane's certificate (is --trust-bundle current?): %w", err)
		}
		return nil
	}
	// Attest and Bundle need no client certificate, so none is presented
	// until the agent has one.
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if cert != nil {
			if crt := cert(); crt != nil {
				return crt, nil
			}
		}
		return &tls.Certificate{}, nil
	}
	target, opts, err := ControlPlaneTarget(addr)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(target, append(opts, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))...)
	if err != nil {
		return nil, fmt.Errorf("identity client for %s: %w", addr, err)
	}
	c.conn, c.api = conn, wire.NewIdentityClient(conn)
	return c, nil
}

// SetTrustBundle replaces the roots the server is verified with, for new
// connections; agents pass the bundle of each SVID response so a root
// rotation reaches them.
func (c *Client) SetTrustBundle(roots []*x509.Certificate) {
	cp := append([]*x509.Certificate(nil), roots...)
	c.bundle.Store(&cp)
}

// GetX509BundleForTrustDomain implements x509bundle.Source with the roots
// last set, for whichever trust domain the server's chain names:
// AuthorizeControlPlane then admits only that domain's control plane, and
// only a chain to these roots verifies.
func (c *Client) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	return x509bundle.FromX509Authorities(td, *c.bundle.Load()), nil
}

// Attest exchanges a join token and a CSR for a first SVID. It needs no
// client certificate.
func (c *Client) Attest(ctx context.Context, req *wire.AttestRequest) (*wire.SVIDResponse, error) {
	return c.api.Attest(ctx, req)
}

// Renew exchanges a CSR for a new SVID of the identity the presented
// certificate proves.
func (c *Client) Renew(ctx context.Context, csr []byte) (*wire.SVIDResponse, error) {
	return c.api.Renew(ctx, &wire.RenewRequest{Csr: csr})
}

// Register registers the caller's Workload, or refreshes its lease. The
// namespace and service account are those of the presented certificate.
func (c *Client) Register(ctx context.Context, name string, spec resource.WorkloadSpec) (*wire.RegisterResponse, error) {
	return c.api.Register(ctx, &wire.RegisterRequest{Name: name, Spec: wire.WorkloadSpecFrom(spec)})
}

// Deregister removes the caller's Workload at once.
func (c *Client) Deregister(ctx context.Context, name string) error {
	_, err := c.api.Deregister(ctx, &wire.DeregisterRequest{Name: name})
	return err
}

// MintJWT asks for a JWT-SVID of the caller's identity for audience.
func (c *Client) MintJWT(ctx context.Context, audience []string) (*wire.JWTResponse, error) {
	return c.api.MintJWT(ctx, &wire.JWTRequest{Audience: audience})
}

// Bundle returns the trust domain's X.509 roots and JWT keys.
func (c *Client) Bundle(ctx context.Context) (*wire.BundleResponse, error) {
	return c.api.Bundle(ctx, &wire.BundleRequest{})
}

// ReportAuthz sends the agent's cumulative authorization decision counts.
func (c *Client) ReportAuthz(ctx context.Context, report *wire.AuthzReport) error {
	_, err := c.api.ReportAuthz(ctx, report)
	return err
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// ParseSVID turns an SVID response into a tls.Certificate with key, and
// the roots of its bundle, checking that the chain verifies against them.
func ParseSVID(resp *wire.SVIDResponse, key any) (*tls.Certificate, []*x509.Certificate, error) {
	if len(resp.Chain) == 0 {
		return nil, nil, errors.New("the SVID response holds no certificate")
	}
	roots := make([]*x509.Certificate, 0, len(resp.Bundle))
	for i, der := range resp.Bundle {
		r, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, fmt.Errorf("bundle root %d does not parse: %w", i, err)
		}
		roots = append(roots, r)
	}
	id, err := spiffeid.FromString(resp.SpiffeId)
	if err != nil {
		return nil, nil, fmt.Errorf("the SVID response's SPIFFE ID: %w", err)
	}
	got, chains, err := x509svid.ParseAndVerify(resp.Chain, x509bundle.FromX509Authorities(id.TrustDomain(), roots))
	if err != nil {
		return nil, nil, fmt.Errorf("the SVID does not verify against its bundle: %w", err)
	}
	if got != id {
		return nil, nil, fmt.Errorf("the SVID is for %s, the response says %s", got, id)
	}
	return &tls.Certificate{Certificate: resp.Chain, PrivateKey: key, Leaf: chains[0][0]}, roots, nil
}
