package agent

import (
	"context"
	"crypto/tls"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/identity/wire"
)

// attestDialer is the redialer, but for Attest, which goes over a
// connection of its own that presents no client certificate. Attest needs
// none, and presenting the SVID can only hurt: the control plane's TLS
// refuses an expired SVID, or one of a CA it no longer trusts, in the
// handshake, so a re-attestation would never be heard. The control plane
// is verified by the current roots and the configured trust bundle.
type attestDialer struct{ *redialer }

func (a attestDialer) Attest(ctx context.Context, req *wire.AttestRequest) (*wire.SVIDResponse, error) {
	roots := append(slices.Clip(a.current().Roots), a.seed...)
	conn, err := a.dial(roots, func() *tls.Certificate { return &tls.Certificate{} })
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "connecting to the control plane: %v", err)
	}
	defer conn.Close()
	return conn.Attest(ctx, req)
}
