package service

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/identity/wire"
)

// identityServer is the Service as the generated wire.IdentityServer. It
// is a type of its own because Service.Register already means adding the
// service to a gRPC server. Embedding the Unsafe marker instead of the
// Unimplemented one makes a method missing here a compile error, not an
// Unimplemented answer.
type identityServer struct {
	wire.UnsafeIdentityServer
	*Service
}

// Attest implements wire.IdentityServer.
func (a identityServer) Attest(ctx context.Context, req *wire.AttestRequest) (*wire.SVIDResponse, error) {
	return a.attest(ctx, req)
}

// Renew implements wire.IdentityServer.
func (a identityServer) Renew(ctx context.Context, req *wire.RenewRequest) (*wire.SVIDResponse, error) {
	return a.renew(ctx, req)
}

// Register implements wire.IdentityServer.
func (a identityServer) Register(ctx context.Context, req *wire.RegisterRequest) (*wire.RegisterResponse, error) {
	return a.register(ctx, req)
}

// Deregister implements wire.IdentityServer.
func (a identityServer) Deregister(ctx context.Context, req *wire.DeregisterRequest) (*wire.DeregisterResponse, error) {
	return a.deregister(ctx, req)
}

// MintJWT implements wire.IdentityServer.
func (a identityServer) MintJWT(ctx context.Context, req *wire.JWTRequest) (*wire.JWTResponse, error) {
	return a.mintJWT(ctx, req)
}

// Bundle implements wire.IdentityServer.
func (a identityServer) Bundle(ctx context.Context, req *wire.BundleRequest) (*wire.BundleResponse, error) {
	return a.bundle(ctx, req)
}

// ReportAuthz implements wire.IdentityServer.
func (a identityServer) ReportAuthz(ctx context.Context, req *wire.AuthzReport) (*wire.ReportAuthzResponse, error) {
	return a.reportAuthz(ctx, req)
}

// protocolOnly wraps every method of d so that a call in another encoding
// than protobuf is refused before its request is decoded. Without it,
// gRPC would decode an older agent's JSON as protobuf (it falls back to
// protobuf for a content-subtype it has no codec for) and answer with a
// confusing decoding error; with it, the older agent fails at once and
// says what to do.
func protocolOnly(d grpc.ServiceDesc) grpc.ServiceDesc {
	methods := make([]grpc.MethodDesc, len(d.Methods))
	for i, m := range d.Methods {
		next := m.Handler
		m.Handler = func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			if err := refuseOtherEncodings(ctx); err != nil {
				return nil, err
			}
			return next(srv, ctx, dec, icpt)
		}
		methods[i] = m
	}
	d.Methods = methods
	return d
}

// refuseOtherEncodings refuses a call whose content-type names another
// codec than protobuf ("application/grpc+json" from agents before
// embassy.identity.v1) with FailedPrecondition naming the API's version.
func refuseOtherEncodings(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, ct := range md.Get("content-type") {
		sub := strings.TrimPrefix(strings.ToLower(ct), "application/grpc")
		sub, _, _ = strings.Cut(strings.TrimLeft(sub, "+;"), ";")
		if sub == "" || sub == "proto" {
			continue
		}
		api := wire.File_pkg_identity_wire_identity_proto.Package()
		return status.Errorf(codes.FailedPrecondition,
			"this control plane speaks %s with protobuf messages, and the call was encoded as %q (embassy-agent before %s sent JSON): upgrade embassy-agent to the control plane's version",
			api, sub, api)
	}
	return nil
}
