package agent

import (
	"context"

	"embassy.dev/embassy/pkg/identity/wire"
	"embassy.dev/embassy/pkg/resource"
)

// ControlPlane is what the agent asks of embassy-cp's identity service.
// The identity client implements it over the wire protocol; every method
// but Attest authenticates with the agent's current SVID. Implementations
// must be safe for concurrent use.
type ControlPlane interface {
	// Attest exchanges the join token and a CSR (DER) for a first SVID.
	Attest(ctx context.Context, req *wire.AttestRequest) (*wire.SVIDResponse, error)
	// Renew exchanges a CSR (DER) for a new SVID of the same identity.
	Renew(ctx context.Context, csrDER []byte) (*wire.SVIDResponse, error)
	// Register registers the workload or refreshes its lease.
	Register(ctx context.Context, name string, spec resource.WorkloadSpec) (*wire.RegisterResponse, error)
	// Deregister removes the workload at once.
	Deregister(ctx context.Context, name string) error
	// MintJWT signs a JWT-SVID of the agent's identity for the audiences.
	MintJWT(ctx context.Context, audience []string) (*wire.JWTResponse, error)
	// Bundle returns the trust domain's X.509 roots and JWT keys.
	Bundle(ctx context.Context) (*wire.BundleResponse, error)
	// ReportAuthz sends the authorization decisions counted per policy.
	ReportAuthz(ctx context.Context, report *wire.AuthzReport) error
}
