package apiwire

import (
	"time"

	"embassy.dev/embassy/pkg/identity"
)

// TokenCreateRequest is the body of POST /v1/tokens.
type TokenCreateRequest struct {
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
	// Workload, when set, is the only workload name the token's agent may
	// attest and register as.
	Workload string `json:"workload,omitempty"`
	// Services, when set, are the only services the token's agent may
	// register its workload for.
	Services []string `json:"services,omitempty"`
	// TTL is a Go duration ("1h"); DefaultTokenTTL when empty, "0" for a
	// token that never expires.
	TTL       string `json:"ttl,omitempty"`
	SingleUse bool   `json:"singleUse,omitempty"`
}

// DefaultTokenTTL is a new join token's lifetime when the request names
// none.
const DefaultTokenTTL = time.Hour

// TokenCreateResponse is the body of a created token: the only time the
// token itself is shown.
type TokenCreateResponse struct {
	Token string             `json:"token"`
	Info  identity.TokenInfo `json:"info"`
}

// TokensResponse is the body of GET /v1/tokens.
type TokensResponse struct {
	Tokens []identity.TokenInfo `json:"tokens"`
}

// WorkloadCertificate is the latest SVID issued to one agent.
type WorkloadCertificate struct {
	// Workload is the name the agent attested or registered as, if any.
	Workload string    `json:"workload,omitempty"`
	SPIFFEID string    `json:"spiffeID"`
	Serial   string    `json:"serial"`
	NotAfter time.Time `json:"notAfter"`
	// IssuedAt is the last rotation; FirstIssuedAt the attestation.
	IssuedAt      time.Time `json:"issuedAt"`
	FirstIssuedAt time.Time `json:"firstIssuedAt"`
	// Issuer names the external CA (SPIRE) that issued the certificate,
	// as seen when the agent registered; "" when embassy-cp signed it.
	Issuer string `json:"issuer,omitempty"`
}

// CertificatesResponse is the body of GET /v1/certificates.
type CertificatesResponse struct {
	TrustDomain  string                `json:"trustDomain"`
	Certificates []WorkloadCertificate `json:"certificates"`
	Roots        []identity.RootInfo   `json:"roots"`
}

// CARootsResponse is the body of GET /v1/ca/roots and of a rotation: the
// trust domain and the roots of its bundle, oldest first.
type CARootsResponse struct {
	TrustDomain string              `json:"trustDomain"`
	Roots       []identity.RootInfo `json:"roots"`
}

// ShortFingerprint is the first 16 hex digits of a root's fingerprint:
// enough to tell roots apart in a table or a log line.
func ShortFingerprint(fp string) string {
	if len(fp) > 16 {
		return fp[:16]
	}
	return fp
}
