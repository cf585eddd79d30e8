// Package wire is the protocol between embassy-agent and embassy-cp's
// identity service: gRPC on the xDS listener (TLS), with JSON messages
// selected by the "json" content-subtype so no generated code is needed.
// The xDS services on the same server keep protobuf.
package wire

import (
	"encoding/json"
	"time"

	"google.golang.org/grpc/encoding"

	"embassy.dev/embassy/pkg/resource"
)

// ServiceName is the gRPC service of the identity API.
const ServiceName = "embassy.identity.v1.Identity"

// Method names; full method is "/" + ServiceName + "/" + name.
const (
	// MethodAttest exchanges a join token and a CSR for a first SVID. It
	// is the only method that needs no client certificate.
	MethodAttest = "Attest"
	// MethodRenew exchanges a CSR for a new SVID of the identity the
	// client certificate proves.
	MethodRenew = "Renew"
	// MethodRegister registers (or refreshes the lease of) the caller's
	// Workload; the lease lapses when the agent stops refreshing it.
	MethodRegister = "Register"
	// MethodDeregister removes the caller's Workload at once.
	MethodDeregister = "Deregister"
	// MethodMintJWT signs a JWT-SVID for the caller's identity.
	MethodMintJWT = "MintJWT"
	// MethodBundle returns the trust bundle (X.509 roots and JWT keys).
	MethodBundle = "Bundle"
	// MethodReportAuthz sends the authorization decisions the caller's
	// agent counted per policy (AuthzReport); the answer is Empty.
	MethodReportAuthz = "ReportAuthz"
)

// CodecName is the content-subtype of the JSON codec.
const CodecName = "json"

// AttestRequest carries the join token, the CSR (DER) for a key made on
// the agent's node, and the workload the agent runs.
type AttestRequest struct {
	Token    string `json:"token"`
	CSR      []byte `json:"csr"`
	Workload string `json:"workload,omitempty"`
}

// RenewRequest carries a CSR (DER) for a new key or the same key.
type RenewRequest struct {
	CSR []byte `json:"csr"`
}

// SVIDResponse is a signed X.509-SVID and the bundle to verify peers with.
type SVIDResponse struct {
	SPIFFEID string `json:"spiffeID"`
	// Chain is the leaf first, then any intermediates (DER).
	Chain [][]byte `json:"chain"`
	// Bundle holds the trust domain's root certificates (DER).
	Bundle    [][]byte  `json:"bundle"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// RegisterRequest describes the caller's workload. The namespace and the
// service account come from the caller's certificate, not from here.
type RegisterRequest struct {
	Name string                `json:"name"`
	Spec resource.WorkloadSpec `json:"spec"`
}

// RegisterResponse says how long the registration lasts without a refresh.
type RegisterResponse struct {
	LeaseSeconds int `json:"leaseSeconds"`
}

// DeregisterRequest names the caller's workload to remove.
type DeregisterRequest struct {
	Name string `json:"name"`
}

// Empty is an empty message.
type Empty struct{}

// JWTRequest asks for a JWT-SVID with these audiences.
type JWTRequest struct {
	Audience []string `json:"audience"`
}

// JWTResponse is a signed JWT-SVID.
type JWTResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// BundleResponse is the trust domain's bundle.
type BundleResponse struct {
	TrustDomain string   `json:"trustDomain"`
	X509Roots   [][]byte `json:"x509Roots"`
	// JWKS is the JWT signing keys as a JSON Web Key Set.
	JWKS json.RawMessage `json:"jwks"`
}

// AuthzReport is what an agent's ext_authz server decided since the agent
// started, per policy that targets its workload. Counts are cumulative, so
// a lost report loses nothing; the control plane turns successive reports
// into deltas.
type AuthzReport struct {
	// Workload is the agent's node id, "<name>.<namespace>"; the namespace
	// must be the caller certificate's.
	Workload string         `json:"workload"`
	Policies []PolicyCounts `json:"policies"`
	// Since is when the agent started counting; a new value means the
	// counts restarted from zero.
	Since time.Time `json:"since"`
}

// PolicyCounts is one policy's decisions since the agent started, or
// since the policy last started targeting the workload.
type PolicyCounts struct {
	// Policy is "<namespace>/<name>".
	Policy string `json:"policy"`
	// Revision is the revision deciding now; "" when none loaded.
	Revision  string `json:"revision"`
	Allow     uint64 `json:"allow"`
	Deny      uint64 `json:"deny"`
	WouldDeny uint64 `json:"wouldDeny"`
	Error     uint64 `json:"error"`
}

// Codec marshals identity messages as JSON.
type Codec struct{}

// Marshal implements encoding.Codec.
func (Codec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal implements encoding.Codec.
func (Codec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// Name implements encoding.Codec.
func (Codec) Name() string { return CodecName }

func init() { encoding.RegisterCodec(Codec{}) }
