package service

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/identity/wire"
)

// PodIdentity is what a verified Kubernetes service-account token proves:
// the service account, and the live Pod the token is bound to.
type PodIdentity struct {
	Namespace      string
	ServiceAccount string
	Pod            string
	PodUID         string
}

// PodTokenVerifier verifies the projected service-account tokens agents
// attest with on Kubernetes; pkg/kube/attest implements it with the API
// server's TokenReview. It returns an error wrapping ErrPodTokenRefused
// for a token that does not prove a live Pod, and any other error when
// the API server could not answer.
type PodTokenVerifier interface {
	VerifyPodToken(ctx context.Context, token string) (PodIdentity, error)
}

// ErrPodTokenRefused marks a service-account token that does not prove a
// live Pod: not authenticated, for another audience, not bound to a Pod,
// or bound to one that is gone.
var ErrPodTokenRefused = errors.New("service-account token refused")

// podTokenPrefix starts the TokenID of a Pod-attested issuance record,
// naming the Pod where a join token's ID would be.
const podTokenPrefix = "pod:"

// attestPod signs the CSR for the identity a service-account token
// proves. There is no join token, so nothing is used up; the token is
// never logged nor echoed.
func (s *Service) attestPod(ctx context.Context, req *wire.AttestRequest) (*wire.SVIDResponse, error) {
	if s.cfg.PodTokens == nil {
		return nil, status.Error(codes.FailedPrecondition, "this embassy-cp does not verify Kubernetes service-account tokens: start it with --kubernetes, or attest with a join token (--token-file)")
	}
	if req.Token != "" {
		return nil, status.Error(codes.InvalidArgument, "the request carries both a join token and a service-account token: send one")
	}
	csr, err := parseCSR(req.Csr)
	if err != nil {
		return nil, err
	}
	pod, err := s.cfg.PodTokens.VerifyPodToken(ctx, req.KubernetesToken)
	if err != nil {
		st := podTokenStatus(err, req.KubernetesToken)
		s.log.Warn("attestation refused", "code", status.Code(st).String(), "reason", status.Convert(st).Message())
		return nil, st
	}
	if req.Workload != pod.Pod {
		err := status.Errorf(codes.PermissionDenied, "the service-account token is bound to Pod %s/%s, and the agent asked to be workload %q: run the agent with --workload %s.%s",
			pod.Namespace, pod.Pod, req.Workload, pod.Pod, pod.Namespace)
		s.log.Warn("attestation refused", "code", status.Code(err).String(), "reason", status.Convert(err).Message())
		return nil, err
	}
	// The record binds the SVID to the Pod's workload, as a join token
	// for one workload would.
	info := identity.TokenInfo{ID: podTokenPrefix + pod.Namespace + "/" + pod.Pod, Namespace: pod.Namespace, ServiceAccount: pod.ServiceAccount, Workload: pod.Pod}
	id, err := s.tokenFits(info, req, csr, s.cfg.CA.TrustDomain())
	if err != nil {
		s.log.Warn("attestation refused", "pod", info.ID, "code", status.Code(err).String(), "reason", status.Convert(err).Message())
		return nil, err
	}
	chain, err := s.sign(csr, id)
	if err != nil {
		return nil, err
	}
	s.issued.attested(id, req.Workload, info, chain[0])
	s.publishIssued("attested", req.Workload, id.String(), chain[0])
	s.log.Info("SVID issued on attestation", "spiffe_id", id.String(), "serial", serialOf(chain[0]), "not_after", chain[0].NotAfter, "pod", info.ID, "pod_uid", pod.PodUID)
	return s.svidResponse(id, chain), nil
}

// podTokenStatus turns a verifier's error into a status: a refused token
// is Unauthenticated, anything else Unavailable (the agent retries). The
// token is scrubbed from the message in case an error ever carries it.
func podTokenStatus(err error, token string) error {
	code := codes.Unavailable
	if errors.Is(err, ErrPodTokenRefused) {
		code = codes.Unauthenticated
	}
	return status.Error(code, strings.ReplaceAll(err.Error(), token, "<token>"))
}

// isControlPlane says whether ns/sa is the control plane's own identity.
func isControlPlane(ns, sa string) bool {
	return ns == dataplane.ControlPlaneNamespace && sa == dataplane.ControlPlaneServiceAccount
}
