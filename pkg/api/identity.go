package api

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/store"
)

// TokenManager makes, lists and revokes join tokens; *identity.Tokens
// implements it.
type TokenManager interface {
	Create(ns, sa, workload string, ttl time.Duration, singleUse bool, services ...string) (string, identity.TokenInfo, error)
	List() []identity.TokenInfo
	Revoke(id string) error
}

// TrustBundle is the mesh CA's public side; *identity.CA implements it.
type TrustBundle interface {
	TrustDomain() spiffeid.TrustDomain
	Bundle() []*x509.Certificate
	JWKS() ([]byte, error)
	Roots() []identity.RootInfo
}

// identityOff answers identity endpoints of a control plane without a CA.
const identityOff = "this control plane has no CA configured: identity endpoints are unavailable"

// maxTokenRequestBytes bounds a token request's body.
const maxTokenRequestBytes = 64 << 10

// createToken makes a join token. The response is the only place the
// secret ever appears: it is not logged.
func (s *server) createToken(w http.ResponseWriter, r *http.Request) {
	if s.o.Tokens == nil {
		writeError(w, http.StatusServiceUnavailable, identityOff)
		return
	}
	var req apiwire.TokenCreateRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxTokenRequestBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "token request: "+err.Error()+` (want {"namespace":..., "serviceAccount":..., "workload":..., "services":[...], "ttl":"1h", "singleUse":true})`)
		return
	}
	if req.Namespace == "" || req.ServiceAccount == "" {
		writeError(w, http.StatusBadRequest, "a join token needs a namespace and a service account: the identity spiffe://<trust-domain>/ns/<namespace>/sa/<service-account> it grants")
		return
	}
	if req.Namespace == dataplane.ControlPlaneNamespace && req.ServiceAccount == dataplane.ControlPlaneServiceAccount {
		writeError(w, http.StatusBadRequest, "a join token may not grant the control plane's own identity (ns "+dataplane.ControlPlaneNamespace+", sa "+dataplane.ControlPlaneServiceAccount+")")
		return
	}
	ttl := apiwire.DefaultTokenTTL
	if req.TTL != "" {
		d, err := identity.ParseTokenTTL(req.TTL)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		ttl = d
	}
	secret, info, err := s.o.Tokens.Create(req.Namespace, req.ServiceAccount, req.Workload, ttl, req.SingleUse, req.Services...)
	if err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, store.ErrUnavailable) {
			code = http.StatusServiceUnavailable
		}
		writeError(w, code, err.Error())
		return
	}
	s.log.Info("join token created", "token_id", info.ID, "namespace", info.Namespace, "service_account", info.ServiceAccount, "workload", info.Workload, "services", info.Services, "single_use", info.SingleUse)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, apiwire.TokenCreateResponse{Token: secret, Info: info})
}

// listTokens lists every join token, without secrets.
func (s *server) listTokens(w http.ResponseWriter, _ *http.Request) {
	if s.o.Tokens == nil {
		writeError(w, http.StatusServiceUnavailable, identityOff)
		return
	}
	out := apiwire.TokensResponse{Tokens: s.o.Tokens.List()}
	if out.Tokens == nil {
		out.Tokens = []identity.TokenInfo{}
	}
	writeJSON(w, http.StatusOK, out)
}

// revokeToken revokes a join token by its ID.
func (s *server) revokeToken(w http.ResponseWriter, r *http.Request) {
	if s.o.Tokens == nil {
		writeError(w, http.StatusServiceUnavailable, identityOff)
		return
	}
	id := r.PathValue("id")
	if err := s.o.Tokens.Revoke(id); err != nil {
		code := failureStatus(err)
		if errors.Is(err, identity.ErrTokenUnknown) {
			code = http.StatusNotFound
		}
		writeError(w, code, err.Error())
		return
	}
	s.log.Info("join token revoked", "token_id", id)
	for _, t := range s.o.Tokens.List() {
		if t.ID == id {
			writeJSON(w, http.StatusOK, t)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// bundle serves the trust bundle: PEM roots, or the JWT keys as a JWKS
// with ?format=jwks. It is public: agents bootstrap their trust from it.
func (s *server) bundle(w http.ResponseWriter, r *http.Request) {
	if s.o.Bundle == nil {
		writeError(w, http.StatusServiceUnavailable, identityOff)
		return
	}
	switch f := r.URL.Query().Get("format"); f {
	case "", "pem":
		w.Header().Set("Content-Type", "application/x-pem-file")
		for _, c := range s.o.Bundle.Bundle() {
			_ = pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
	case "jwks":
		b, err := s.o.Bundle.JWKS()
		if err != nil {
			writeError(w, http.StatusInternalServerError, "the JWT keys: "+err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(b)
	default:
		writeError(w, http.StatusBadRequest, "format "+f+": want pem or jwks")
	}
}

// certificates lists the latest SVID of every agent and the bundle's
// roots.
func (s *server) certificates(w http.ResponseWriter, _ *http.Request) {
	if s.o.Bundle == nil {
		writeError(w, http.StatusServiceUnavailable, identityOff)
		return
	}
	out := apiwire.CertificatesResponse{
		TrustDomain:  s.o.Bundle.TrustDomain().Name(),
		Certificates: []apiwire.WorkloadCertificate{},
		Roots:        s.o.Bundle.Roots(),
	}
	if s.o.Certificates != nil {
		if cs := s.o.Certificates(); cs != nil {
			out.Certificates = cs
		}
	}
	writeJSON(w, http.StatusOK, out)
}
