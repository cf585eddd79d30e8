package service

import (
	"context"
	"crypto/x509"

	"embassy.dev/embassy/pkg/dataplane"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// NoCertificateMessage is the Unauthenticated message for a call or
// stream without a client certificate.
const NoCertificateMessage = "no client certificate: present the workload's SVID (embassy-agent does), or run embassy-cp with --insecure-xds for local development"

// PeerSVID returns the SPIFFE ID and leaf of the client certificate of
// the call in ctx, verified against bundle with X.509-SVID rules. The TLS
// handshake verified it already; verifying again here keeps the check
// next to its use and applies the current bundle. It returns an
// Unauthenticated status when there is no certificate or it does not
// verify.
func PeerSVID(ctx context.Context, bundle x509bundle.Source) (spiffeid.ID, *x509.Certificate, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return spiffeid.ID{}, nil, status.Error(codes.Unauthenticated, NoCertificateMessage)
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		return spiffeid.ID{}, nil, status.Error(codes.Unauthenticated, NoCertificateMessage)
	}
	certs := info.State.PeerCertificates
	id, _, err := x509svid.Verify(certs, bundle)
	if err != nil {
		return spiffeid.ID{}, nil, status.Errorf(codes.Unauthenticated, "the client certificate is not a valid SVID of this mesh: %v", err)
	}
	return id, certs[0], nil
}

// caller is the verified identity of a call.
type caller struct {
	id     spiffeid.ID
	ns, sa string
	leaf   *x509.Certificate
}

// caller returns the workload identity of the call in ctx.
func (s *Service) caller(ctx context.Context) (caller, error) {
	id, leaf, err := PeerSVID(ctx, s.trust())
	if err != nil {
		return caller{}, err
	}
	ns, sa, err := dataplane.ParseWorkloadID(id)
	if err != nil {
		return caller{}, status.Errorf(codes.PermissionDenied, "%v", err)
	}
	return caller{id: id, ns: ns, sa: sa, leaf: leaf}, nil
}
