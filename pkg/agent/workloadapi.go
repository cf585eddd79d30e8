package agent

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"embassy.dev/embassy/pkg/identity/wire"
)

// SecurityHeader is the metadata every Workload API call must carry with
// the value "true", as SPIRE requires: a browser or an SSRF'd HTTP client
// cannot set it, so it proves the caller meant to speak the Workload API.
const SecurityHeader = "workload.spiffe.io"

// IdentityWatcher is what serves the identity: *Manager implements it.
type IdentityWatcher interface {
	// Watch returns the current identity and a channel closed when a
	// newer one is published.
	Watch() (*Identity, <-chan struct{})
}

// JWTMinter signs JWT-SVIDs of the agent's identity; ControlPlane is one.
type JWTMinter interface {
	MintJWT(ctx context.Context, audience []string) (*wire.JWTResponse, error)
}

// WorkloadAPI is the SPIFFE Workload API for the workload beside the
// agent: its X.509-SVID and bundle (streamed, re-sent on each rotation),
// JWT-SVIDs minted by the control plane, the JWT bundle, and JWT-SVID
// validation against it. The WIT-SVID methods are not implemented.
type WorkloadAPI struct {
	workload.UnimplementedSpiffeWorkloadAPIServer
	src    IdentityWatcher
	minter JWTMinter
	log    hclog.Logger
}

var _ workload.SpiffeWorkloadAPIServer = (*WorkloadAPI)(nil)

// NewWorkloadAPI returns the Workload API over src, minting JWTs with minter.
func NewWorkloadAPI(src IdentityWatcher, minter JWTMinter, log hclog.Logger) *WorkloadAPI {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &WorkloadAPI{src: src, minter: minter, log: log}
}

// Register adds the Workload API to g.
func (w *WorkloadAPI) Register(g *grpc.Server) { workload.RegisterSpiffeWorkloadAPIServer(g, w) }

var errNoIdentity = status.Error(codes.PermissionDenied, "no identity issued")

// FetchX509SVID streams the X.509-SVID with its key and bundle, again on
// every change. It ends with PermissionDenied while there is no valid
// SVID, as SPIRE does; clients retry.
func (w *WorkloadAPI) FetchX509SVID(_ *workload.X509SVIDRequest, stream grpc.ServerStreamingServer[workload.X509SVIDResponse]) error {
	if err := requireHeader(stream.Context()); err != nil {
		return err
	}
	return w.follow(stream.Context(),
		func(cur *Identity) bool { return cur.SVID != nil },
		func(sent, cur *Identity) bool { return sent.SVID != cur.SVID || !sameCerts(sent.Roots, cur.Roots) },
		func(cur *Identity) error {
			resp, err := x509SVIDResponse(cur)
			if err != nil {
				return status.Error(codes.Internal, err.Error())
			}
			return stream.Send(resp)
		})
}

func x509SVIDResponse(id *Identity) (*workload.X509SVIDResponse, error) {
	key, err := marshalKey(id)
	if err != nil {
		return nil, fmt.Errorf("encoding the key: %w", err)
	}
	return &workload.X509SVIDResponse{Svids: []*workload.X509SVID{{
		SpiffeId:    id.ID.String(),
		X509Svid:    certsDER(id.SVID.Certificates),
		X509SvidKey: key,
		Bundle:      certsDER(id.Roots),
	}}}, nil
}

// FetchX509Bundles streams the trust domain's X.509 roots, again on every
// change. Bundles are public: they keep being served after the SVID
// expires.
func (w *WorkloadAPI) FetchX509Bundles(_ *workload.X509BundlesRequest, stream grpc.ServerStreamingServer[workload.X509BundlesResponse]) error {
	if err := requireHeader(stream.Context()); err != nil {
		return err
	}
	return w.follow(stream.Context(),
		func(cur *Identity) bool { return len(cur.Roots) > 0 },
		func(sent, cur *Identity) bool { return !sameCerts(sent.Roots, cur.Roots) },
		func(cur *Identity) error {
			return stream.Send(&workload.X509BundlesResponse{Bundles: map[string][]byte{cur.ID.TrustDomain().IDString(): certsDER(cur.Roots)}})
		})
}

// FetchJWTSVID has the control plane sign a JWT-SVID for the audiences.
func (w *WorkloadAPI) FetchJWTSVID(ctx context.Context, req *workload.JWTSVIDRequest) (*workload.JWTSVIDResponse, error) {
	if err := requireHeader(ctx); err != nil {
		return nil, err
	}
	if len(req.Audience) == 0 {
		return nil, status.Error(codes.InvalidArgument, "audience must be specified")
	}
	cur, _ := w.src.Watch()
	if cur.SVID == nil {
		return nil, errNoIdentity
	}
	if req.SpiffeId != "" && req.SpiffeId != cur.ID.String() {
		return nil, status.Errorf(codes.PermissionDenied, "this workload is %s, not %s", cur.ID, req.SpiffeId)
	}
	resp, err := w.minter.MintJWT(ctx, req.Audience)
	if err != nil {
		w.log.Warn("minting a JWT-SVID failed", "error", err)
		return nil, status.Errorf(codes.Unavailable, "the control plane did not sign a JWT-SVID: %v", err)
	}
	svid, err := jwtsvid.ParseInsecure(resp.Token, req.Audience)
	if err != nil || svid.ID != cur.ID {
		w.log.Error("the control plane signed a bad JWT-SVID", "error", err)
		return nil, status.Error(codes.Internal, "the control plane signed a JWT-SVID that is not this workload's")
	}
	return &workload.JWTSVIDResponse{Svids: []*workload.JWTSVID{{SpiffeId: cur.ID.String(), Svid: resp.Token}}}, nil
}

// FetchJWTBundles streams the trust domain's JWT keys (JWKS), again on
// every change.
func (w *WorkloadAPI) FetchJWTBundles(_ *workload.JWTBundlesRequest, stream grpc.ServerStreamingServer[workload.JWTBundlesResponse]) error {
	if err := requireHeader(stream.Context()); err != nil {
		return err
	}
	return w.follow(stream.Context(),
		func(cur *Identity) bool { return !cur.ID.IsZero() },
		func(sent, cur *Identity) bool { return string(sent.JWKSOrEmpty()) != string(cur.JWKSOrEmpty()) },
		func(cur *Identity) error {
			return stream.Send(&workload.JWTBundlesResponse{Bundles: map[string][]byte{cur.ID.TrustDomain().IDString(): cur.JWKSOrEmpty()}})
		})
}

// follow serves one stream: it sends the current identity, then each
// published one that differs from the last sent, until ctx ends. While an
// identity is not servable the stream ends with PermissionDenied, as
// SPIRE's does; clients retry.
func (w *WorkloadAPI) follow(ctx context.Context, servable func(*Identity) bool, differs func(sent, cur *Identity) bool, send func(*Identity) error) error {
	var sent *Identity
	for {
		cur, changed := w.src.Watch()
		if !servable(cur) {
			return errNoIdentity
		}
		if sent == nil || differs(sent, cur) {
			if err := send(cur); err != nil {
				return err
			}
			sent = cur
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

// ValidateJWTSVID checks a JWT-SVID's signature against the JWT bundle,
// its expiry and the audience, and returns its subject and claims.
func (w *WorkloadAPI) ValidateJWTSVID(ctx context.Context, req *workload.ValidateJWTSVIDRequest) (*workload.ValidateJWTSVIDResponse, error) {
	if err := requireHeader(ctx); err != nil {
		return nil, err
	}
	if req.Audience == "" {
		return nil, status.Error(codes.InvalidArgument, "audience must be specified")
	}
	if req.Svid == "" {
		return nil, status.Error(codes.InvalidArgument, "svid must be specified")
	}
	cur, _ := w.src.Watch()
	bundle, err := cur.JWTBundle()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "JWT bundle: %v", err)
	}
	svid, err := jwtsvid.ParseAndValidate(req.Svid, bundle, []string{req.Audience})
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	claims, err := claimsStruct(svid.Claims)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "claims: %v", err)
	}
	return &workload.ValidateJWTSVIDResponse{SpiffeId: svid.ID.String(), Claims: claims}, nil
}

// claimsStruct converts claims through JSON, so typed values such as an
// audience []string become what structpb accepts.
func claimsStruct(claims map[string]any) (*structpb.Struct, error) {
	b, err := json.Marshal(claims)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return structpb.NewStruct(m)
}

// requireHeader refuses a call without SecurityHeader: true.
func requireHeader(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(SecurityHeader); len(v) != 1 || v[0] != "true" {
		return status.Error(codes.InvalidArgument, "security header missing from request")
	}
	return nil
}
