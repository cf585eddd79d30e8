package service

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/identity/wire"
)

// podTokens answers for the tokens it holds and refuses the rest, as the
// API server's TokenReview would; the real verifier runs against a real
// API server in the Kubernetes end-to-end tests.
type podTokens map[string]PodIdentity

func (p podTokens) VerifyPodToken(_ context.Context, token string) (PodIdentity, error) {
	if id, ok := p[token]; ok {
		return id, nil
	}
	if token == "unreachable" {
		return PodIdentity{}, fmt.Errorf("TokenReview: connection refused")
	}
	return PodIdentity{}, fmt.Errorf("%w: the API server does not accept %s", ErrPodTokenRefused, token)
}

func podEnv(t *testing.T) *env {
	return newEnvWith(t, func(c *Config) {
		c.PodTokens = podTokens{
			"tok-web":  {Namespace: "shop", ServiceAccount: "web", Pod: "web-0", PodUID: "u1"},
			"tok-ctrl": {Namespace: "embassy-system", ServiceAccount: "embassy-cp", Pod: "cp-0", PodUID: "u2"},
		}
	})
}

func TestAPodTokenAttestsAsItsServiceAccount(t *testing.T) {
	e := podEnv(t)
	a := e.agent()
	resp, err := a.c.Attest(ctx(t), &wire.AttestRequest{KubernetesToken: "tok-web", Csr: a.csr(""), Workload: "web-0"})
	if err != nil {
		t.Fatalf("attest: %v", err)
	}
	if id := a.take(resp, e.ca.Bundle()); id.String() != "spiffe://example.org/ns/shop/sa/web" {
		t.Fatalf("attested as %s", id)
	}
	// The issuance record lets the SVID renew, like a join token's.
	if _, err := a.c.Renew(ctx(t), a.csr("")); err != nil {
		t.Fatalf("renew after a Pod attestation: %v", err)
	}
	if strings.Contains(e.logs.String(), "tok-web") {
		t.Fatal("the service-account token was logged")
	}
}

func TestPodTokensThatMayNotAttest(t *testing.T) {
	e := podEnv(t)
	a := e.agent()
	for _, c := range []struct {
		name, token, workload, uri string
		code                       codes.Code
		msg                        string
	}{
		{"refused by the API server", "tok-forged", "web-0", "", codes.Unauthenticated, "service-account token refused"},
		{"API server unreachable", "unreachable", "web-0", "", codes.Unavailable, "connection refused"},
		{"another Pod's workload", "tok-web", "web-1", "", codes.PermissionDenied, "bound to Pod shop/web-0"},
		{"no workload", "tok-web", "", "", codes.PermissionDenied, "--workload web-0.shop"},
		{"a CSR for another identity", "tok-web", "web-0", "spiffe://example.org/ns/shop/sa/admin", codes.InvalidArgument, "may only hold"},
		{"the control plane's identity", "tok-ctrl", "cp-0", "", codes.PermissionDenied, "control plane's own identity"},
	} {
		_, err := a.c.Attest(ctx(t), &wire.AttestRequest{KubernetesToken: c.token, Csr: a.csr(c.uri), Workload: c.workload})
		if status.Code(err) != c.code || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want %s with %q", c.name, err, c.code, c.msg)
		}
		if err != nil && strings.Contains(err.Error(), c.token) && c.token != "unreachable" {
			t.Errorf("%s: the refusal echoes the token: %v", c.name, err)
		}
	}
}

func TestPodTokensNeedKubernetes(t *testing.T) {
	e := newEnv(t)
	a := e.agent()
	_, err := a.c.Attest(ctx(t), &wire.AttestRequest{KubernetesToken: "tok-web", Csr: a.csr(""), Workload: "web-0"})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "--kubernetes") {
		t.Fatalf("a Pod token without --kubernetes: %v", err)
	}
}
