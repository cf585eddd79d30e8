// Package service is embassy-cp's identity service: the gRPC API agents
// call on the xDS listener to exchange a join token for a first SVID,
// renew it, register their Workload under a lease, mint JWT-SVIDs and
// report the authorization decisions they counted.
// The API is embassy.identity.v1, defined in pkg/identity/wire's
// identity.proto; messages are protobuf.
//
// Every method but Attest and Bundle takes the caller's identity from its
// verified client certificate, never from the request.
package service

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"embassy.dev/embassy/pkg/apply"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/identity/wire"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
)

// Defaults of Config.
const (
	DefaultLeaseTTL      = 30 * time.Second
	DefaultSweepInterval = 5 * time.Second
	DefaultJWTTTL        = 5 * time.Minute
)

// CA is what the service needs of the certificate authority;
// *identity.CA implements it.
type CA interface {
	TrustDomain() spiffeid.TrustDomain
	Bundle() []*x509.Certificate
	// SignRequest signs a CSR the service parsed once with identity.ParseCSR.
	SignRequest(csr *x509.CertificateRequest, id spiffeid.ID, ttl time.Duration) ([]*x509.Certificate, error)
	MintJWT(id spiffeid.ID, audience []string, ttl time.Duration) (string, time.Time, error)
	JWKS() ([]byte, error)
}

// Tokens redeems join tokens; *identity.Tokens implements it.
type Tokens interface {
	// RedeemIf checks a token and, unless accept refuses it, counts a use.
	RedeemIf(secret string, accept func(identity.TokenInfo) error) (identity.TokenInfo, error)
}

// Config configures a Service.
type Config struct {
	CA     CA
	Tokens Tokens
	// PodTokens, when set, lets agents on Kubernetes attest with a
	// service-account token instead of a join token (see attestPod).
	PodTokens PodTokenVerifier
	// Trust verifies the client certificates of every call but Attest and
	// Bundle; nil means the CA's bundle. It may trust more than the CA:
	// with an external CA, the SVIDs agents present come from there.
	Trust x509bundle.Source
	// External, when set, names the CA the mesh's SVIDs come from instead
	// of this one (the SPIRE agent's socket, say): Attest, Renew and
	// MintJWT are refused with FailedPrecondition, without redeeming the
	// token, and the certificates agents register with are recorded as
	// they are seen.
	External string
	// Store holds agent-registered Workloads; Applier writes them, so
	// they are validated and reference-checked like any apply. Secrets
	// keeps the issuance records across restarts.
	Store   store.Store
	Applier *apply.Applier
	Secrets store.Secrets
	// Mesh returns the current Mesh spec, for svidTTL; nil means the
	// defaults.
	Mesh func() resource.MeshSpec
	// LeaseTTL is how long a registration lives without a refresh;
	// SweepInterval is how often lapsed ones are removed.
	LeaseTTL, SweepInterval time.Duration
	// Leases keeps the registrations' leases: the etcd store for control
	// planes sharing it, memory (NewMemoryLeases) when nil.
	Leases Leases
	// Leads reports whether this control plane sweeps lapsed
	// registrations, which one control plane of those sharing a store
	// does; always when nil.
	Leads func() bool
	// JWTTTL is the lifetime of JWT-SVIDs (capped at the SVID TTL).
	JWTTTL time.Duration
	Logger hclog.Logger
	// OnAuthzDecisions, when set, hears the decisions an agent's report
	// adds to its previous one, per policy (see AuthzDeltas). It is called
	// synchronously from the report's handler, so it must be quick and
	// safe for concurrent use.
	OnAuthzDecisions func([]AuthzDelta)
	// Events, when set, hears every SVID issued: on attestation and on
	// each renewal (a rotation).
	Events events.Publisher
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Service implements the identity API. It is safe for concurrent use.
type Service struct {
	cfg     Config
	log     hclog.Logger
	issued  *issuances
	leases  *leases
	reports *authzReports
}

// New returns a Service; Register it on the xDS gRPC server and Run its
// lease sweeper.
func New(cfg Config) (*Service, error) {
	if cfg.CA == nil || cfg.Store == nil {
		return nil, errors.New("identity service: a CA and a store are required")
	}
	if cfg.Applier == nil {
		cfg.Applier = apply.New(cfg.Store)
	}
	if cfg.Secrets == nil {
		sec, ok := cfg.Store.(store.Secrets)
		if !ok {
			return nil, fmt.Errorf("identity service: the %s store keeps no secrets and none were given", cfg.Store.Kind())
		}
		cfg.Secrets = sec
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	if cfg.JWTTTL <= 0 {
		cfg.JWTTTL = DefaultJWTTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Leases == nil {
		cfg.Leases = NewMemoryLeases(cfg.Now)
	}
	if cfg.Leads == nil {
		cfg.Leads = func() bool { return true }
	}
	issued, err := loadIssuances(cfg.Secrets, cfg.Now, cfg.Logger)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, log: cfg.Logger, issued: issued, leases: newLeases(), reports: newAuthzReports()}, nil
}

// Register adds the identity service to g. Calls in another encoding than
// protobuf, as agents before embassy.identity.v1 made them in JSON, are
// refused before their request is decoded (see protocolOnly).
func (s *Service) Register(g *grpc.Server) {
	desc := protocolOnly(wire.Identity_ServiceDesc)
	g.RegisterService(&desc, identityServer{Service: s})
}

// trust is the source client certificates are verified against.
func (s *Service) trust() x509bundle.Source {
	if s.cfg.Trust != nil {
		return s.cfg.Trust
	}
	return x509bundle.FromX509Authorities(s.cfg.CA.TrustDomain(), s.cfg.CA.Bundle())
}

// notIssuing refuses Attest and Renew when the SVIDs come from an
// external CA.
func (s *Service) notIssuing() error {
	if s.cfg.External == "" {
		return nil
	}
	return status.Errorf(codes.FailedPrecondition,
		"this mesh's SVIDs come from %s, not from embassy-cp (Mesh spec.ca.type: spire): run embassy-agent with --spire-socket instead of a join token", s.cfg.External)
}

// svidTTL is the Mesh's svidTTL, the schema's default when unset.
func (s *Service) svidTTL() time.Duration {
	if s.cfg.Mesh == nil {
		return resource.MeshSpec{}.SVIDLifetime()
	}
	return s.cfg.Mesh().SVIDLifetime()
}

// svidResponse is the wire form of a signed chain and the current bundle.
func (s *Service) svidResponse(id spiffeid.ID, chain []*x509.Certificate) *wire.SVIDResponse {
	resp := &wire.SVIDResponse{SpiffeId: id.String(), ExpiresAt: timestamppb.New(chain[0].NotAfter)}
	for _, c := range chain {
		resp.Chain = append(resp.Chain, c.Raw)
	}
	resp.Bundle = derOf(s.cfg.CA.Bundle())
	return resp
}

func derOf(certs []*x509.Certificate) [][]byte {
	out := make([][]byte, 0, len(certs))
	for _, c := range certs {
		out = append(out, c.Raw)
	}
	return out
}

// sign signs csr for id, turning a refused CSR into InvalidArgument with
// the CA's reason.
func (s *Service) sign(csr *x509.CertificateRequest, id spiffeid.ID) ([]*x509.Certificate, error) {
	chain, err := s.cfg.CA.SignRequest(csr, id, s.svidTTL())
	if errors.Is(err, identity.ErrBadCSR) {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if err != nil {
		s.log.Error("signing an SVID failed", "spiffe_id", id.String(), "error", err)
		return nil, status.Errorf(codes.Internal, "signing the SVID for %s failed: %v", id, err)
	}
	return chain, nil
}

// bundle returns the trust bundle. It needs no client certificate.
func (s *Service) bundle(context.Context, *wire.BundleRequest) (*wire.BundleResponse, error) {
	jwks, err := s.cfg.CA.JWKS()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "the JWT keys: %v", err)
	}
	return &wire.BundleResponse{
		TrustDomain: s.cfg.CA.TrustDomain().Name(),
		X509Roots:   derOf(s.cfg.CA.Bundle()),
		Jwks:        jwks,
	}, nil
}

// mintJWT signs a JWT-SVID for the caller's identity.
func (s *Service) mintJWT(ctx context.Context, req *wire.JWTRequest) (*wire.JWTResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if s.cfg.External != "" {
		return nil, status.Errorf(codes.FailedPrecondition,
			"this mesh's JWT-SVIDs come from %s, not from embassy-cp: fetch them from that Workload API (embassy-agent --spire-socket forwards its own)", s.cfg.External)
	}
	if len(req.Audience) == 0 {
		return nil, status.Error(codes.InvalidArgument, "a JWT-SVID needs at least one audience: name the service that will read it")
	}
	tok, exp, err := s.cfg.CA.MintJWT(c.id, req.Audience, min(s.cfg.JWTTTL, s.svidTTL()))
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "minting a JWT-SVID for %s: %v", c.id, err)
	}
	return &wire.JWTResponse{Token: tok, ExpiresAt: timestamppb.New(exp)}, nil
}
