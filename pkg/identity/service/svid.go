package service

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/identity/wire"
)

// attest redeems a join token and signs the CSR for the token's identity.
// The token is never logged nor echoed: errors name the token's ID at most.
func (s *Service) attest(ctx context.Context, req *wire.AttestRequest) (*wire.SVIDResponse, error) {
	if err := s.notIssuing(); err != nil {
		return nil, err
	}
	if req.KubernetesToken != "" {
		return s.attestPod(ctx, req)
	}
	if req.Token == "" {
		return nil, status.Error(codes.Unauthenticated, "no join token: create one with embassyctl token create --namespace NS --service-account SA and give it to the agent")
	}
	// Refuse a CSR that cannot be signed whatever the identity before the
	// token is redeemed, so a malformed request does not use up a
	// single-use token. It is parsed here once; the checks that follow
	// and the CA use the parsed request.
	csr, err := parseCSR(req.Csr)
	if err != nil {
		return nil, err
	}
	// Everything the token's identity decides is checked before the token
	// is used up, so a refused attestation leaves a single-use token as it
	// was.
	td := s.cfg.CA.TrustDomain()
	var id spiffeid.ID
	var refused error
	info, err := s.cfg.Tokens.RedeemIf(req.Token, func(info identity.TokenInfo) error {
		id, refused = s.tokenFits(info, req, csr, td)
		return refused
	})
	if refused != nil {
		s.log.Warn("attestation refused", "code", status.Code(refused).String(), "reason", status.Convert(refused).Message())
		return nil, refused
	}
	if err != nil {
		st := tokenStatus(err, req.Token)
		s.log.Warn("attestation refused", "code", status.Code(st).String(), "reason", status.Convert(st).Message())
		return nil, st
	}
	chain, err := s.sign(csr, id)
	if err != nil {
		s.log.Warn("attestation refused", "token_id", info.ID, "spiffe_id", id.String(), "error", err)
		return nil, err
	}
	s.issued.attested(id, req.Workload, info, chain[0])
	s.publishIssued("attested", req.Workload, id.String(), chain[0])
	s.log.Info("SVID issued on attestation", "spiffe_id", id.String(), "serial", serialOf(chain[0]), "not_after", chain[0].NotAfter, "token_id", info.ID, "workload", req.Workload)
	return s.svidResponse(id, chain), nil
}

// tokenFits returns the identity a valid token grants for req, or a
// status saying why req may not have it.
func (s *Service) tokenFits(info identity.TokenInfo, req *wire.AttestRequest, csr *x509.CertificateRequest, td spiffeid.TrustDomain) (spiffeid.ID, error) {
	if info.Workload != "" && req.Workload != info.Workload {
		return spiffeid.ID{}, status.Errorf(codes.PermissionDenied, "join token %s is for workload %q, the agent asked for %q: run the agent with --workload %s or create a token for this workload", info.ID, info.Workload, req.Workload, info.Workload)
	}
	if isControlPlane(info.Namespace, info.ServiceAccount) {
		return spiffeid.ID{}, status.Errorf(codes.PermissionDenied, "join token %s names the control plane's own identity, which no agent may hold", info.ID)
	}
	id, err := dataplane.WorkloadID(td, info.Namespace, info.ServiceAccount)
	if err != nil {
		return spiffeid.ID{}, status.Errorf(codes.InvalidArgument, "join token %s: %v", info.ID, err)
	}
	if err := identity.CheckRequest(csr, id); err != nil {
		return spiffeid.ID{}, status.Error(codes.InvalidArgument, err.Error())
	}
	return id, nil
}

// renew signs a CSR for the identity the client certificate proves.
func (s *Service) renew(ctx context.Context, req *wire.RenewRequest) (*wire.SVIDResponse, error) {
	if err := s.notIssuing(); err != nil {
		return nil, err
	}
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if len(req.Csr) == 0 {
		return nil, status.Error(codes.InvalidArgument, "no CSR: send a DER PKCS#10 request for the key to renew with")
	}
	if _, err := s.scopeOf(c, "renewal"); err != nil {
		return nil, err
	}
	csr, err := parseCSR(req.Csr)
	if err != nil {
		return nil, err
	}
	chain, err := s.sign(csr, c.id)
	if err != nil {
		return nil, err
	}
	// The record can only have gone since scopeOf if c's certificate
	// expired meanwhile; the new one is then not handed out unrecorded.
	if !s.issued.renewed(c.id, c.leaf, chain[0]) {
		return nil, s.noRecord(c, "renewal")
	}
	s.publishIssued("rotated", "", c.id.String(), chain[0])
	s.log.Debug("SVID renewed", "spiffe_id", c.id.String(), "serial", serialOf(chain[0]), "not_after", chain[0].NotAfter)
	return s.svidResponse(c.id, chain), nil
}

// parseCSR parses a request's CSR once (see identity.ParseCSR), refusing a
// missing, unparsable or wrongly signed one, or an unsupported key, with
// InvalidArgument.
func parseCSR(der []byte) (*x509.CertificateRequest, error) {
	if len(der) == 0 {
		return nil, status.Error(codes.InvalidArgument, "no CSR: send a DER PKCS#10 request for a key made on the agent's node")
	}
	csr, err := identity.ParseCSR(der)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return csr, nil
}

// tokenStatus turns a refused token into a status: one that is not known
// (or whose secret is wrong) is Unauthenticated; one that is known but
// spent, expired or revoked is PermissionDenied. The secret is scrubbed
// from the message in case an error ever carries it.
func tokenStatus(err error, secret string) error {
	code := codes.Unavailable
	switch {
	case errors.Is(err, identity.ErrTokenInvalid):
		code = codes.Unauthenticated
	case errors.Is(err, identity.ErrTokenExpired), errors.Is(err, identity.ErrTokenUsed), errors.Is(err, identity.ErrTokenRevoked):
		code = codes.PermissionDenied
	}
	msg := err.Error()
	if secret != "" {
		msg = strings.ReplaceAll(msg, secret, "<token>")
	}
	return status.Errorf(code, "join token refused: %s", msg)
}

// publishIssued records an issued SVID as a rotation event for
// /v1/events. The event names the identity and the new certificate, never
// the token or the key.
func (s *Service) publishIssued(how, workload, id string, leaf *x509.Certificate) {
	if s.cfg.Events == nil {
		return
	}
	msg := fmt.Sprintf("SVID %s for %s: serial %s, expires %s", how, id, serialOf(leaf), leaf.NotAfter.UTC().Format(time.RFC3339))
	s.cfg.Events.Publish(events.Event{Kind: events.KindRotation, Proxy: workload, Message: msg})
}

// serialOf renders a certificate's serial number as hex.
func serialOf(c *x509.Certificate) string { return c.SerialNumber.Text(16) }
