package api

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"embassy.dev/embassy/internal/idtest"
	"embassy.dev/embassy/pkg/apiwire"
)

// identityHarness is the API with real join tokens and a real CA over a
// memory store, logging to a buffer.
func identityHarness(t *testing.T) (*harness, *bytes.Buffer) {
	t.Helper()
	id := idtest.New(t, "example.org", nil)
	st, ca, tokens := id.Store, id.CA, id.Tokens
	var logs bytes.Buffer
	srv := httptest.NewServer(NewHandler(Options{
		Store: st, AdminToken: testToken, Tokens: tokens, Bundle: ca,
		Certificates: func() []apiwire.WorkloadCertificate {
			return []apiwire.WorkloadCertificate{{Workload: "web-1", SPIFFEID: "spiffe://example.org/ns/shop/sa/a", Serial: "ab"}}
		},
		Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace}),
	}))
	t.Cleanup(srv.Close)
	return &harness{t: t, srv: srv, st: st}, &logs
}

func TestTokenEndpointsNeedTheAdminToken(t *testing.T) {
	h, _ := identityHarness(t)
	req := apiwire.TokenCreateRequest{Namespace: "shop", ServiceAccount: "a"}
	for _, c := range []struct{ method, path string }{
		{http.MethodPost, "/v1/tokens"}, {http.MethodGet, "/v1/tokens"}, {http.MethodDelete, "/v1/tokens/0123456789abcdef"},
	} {
		for _, tok := range []string{"", "wrong"} {
			if code, body := h.do(c.method, c.path, tok, req); code != http.StatusUnauthorized {
				t.Fatalf("%s %s with token %q: %d %s", c.method, c.path, tok, code, body)
			}
		}
	}
}

func TestTokenLifecycleOverTheAPI(t *testing.T) {
	h, logs := identityHarness(t)
	code, body := h.do(http.MethodPost, "/v1/tokens", testToken, apiwire.TokenCreateRequest{Namespace: "shop", ServiceAccount: "a", Workload: "web-1", TTL: "30m", SingleUse: true})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var created apiwire.TokenCreateResponse
	if err := json.Unmarshal(body, &created); err != nil || created.Token == "" {
		t.Fatalf("create response (%v): %s", err, body)
	}
	info := created.Info
	if info.Namespace != "shop" || info.ServiceAccount != "a" || info.Workload != "web-1" || !info.SingleUse || info.ExpiresAt == nil ||
		info.ExpiresAt.Sub(info.CreatedAt) != 30*time.Minute {
		t.Fatalf("token info: %+v", info)
	}

	code, body = h.do(http.MethodGet, "/v1/tokens", testToken, nil)
	var list apiwire.TokensResponse
	if code != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list.Tokens) != 1 || list.Tokens[0].ID != info.ID {
		t.Fatalf("list: %d %s", code, body)
	}
	if strings.Contains(string(body), created.Token) {
		t.Fatal("the token list shows the secret")
	}

	code, body = h.do(http.MethodDelete, "/v1/tokens/"+info.ID, testToken, nil)
	if code != http.StatusOK || !strings.Contains(string(body), `"revoked": true`) {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if code, body = h.do(http.MethodDelete, "/v1/tokens/0123456789abcdef", testToken, nil); code != http.StatusNotFound {
		t.Fatalf("revoke an unknown token: %d %s", code, body)
	}
	if strings.Contains(logs.String(), created.Token) {
		t.Fatal("the token appears in the API's log")
	}
	if !strings.Contains(logs.String(), info.ID) {
		t.Fatalf("the log does not name the token by its ID:\n%s", logs.String())
	}
}

func TestTokenCreateRefusesBadRequests(t *testing.T) {
	h, _ := identityHarness(t)
	for _, c := range []struct {
		req  any
		want string
	}{
		{apiwire.TokenCreateRequest{ServiceAccount: "a"}, "needs a namespace and a service account"},
		{apiwire.TokenCreateRequest{Namespace: "shop", ServiceAccount: "a", TTL: "soon"}, `ttl "soon" is not a duration`},
		{apiwire.TokenCreateRequest{Namespace: "shop", ServiceAccount: "a", TTL: "100000000h"}, `ttl "100000000h" is not a duration from 0 to 8760h (365 days)`},
		{apiwire.TokenCreateRequest{Namespace: "shop", ServiceAccount: "a", TTL: "9000h"}, "longer than the maximum 8760h (365 days)"},
		{apiwire.TokenCreateRequest{Namespace: "shop", ServiceAccount: "a", Workload: "x.other"}, "workload (--workload) must be a DNS-1123 label"},
		{apiwire.TokenCreateRequest{Namespace: "shop", ServiceAccount: "a", Services: []string{"Web"}}, "service (--service) must be a DNS-1123 label"},
		{apiwire.TokenCreateRequest{Namespace: "embassy-system", ServiceAccount: "embassy-cp"}, "control plane's own identity"},
		{apiwire.TokenCreateRequest{Namespace: "shop", ServiceAccount: "a/b"}, "service account"},
		{map[string]any{"namespace": "shop", "serviceAccount": "a", "sa": "x"}, "unknown field"},
	} {
		code, body := h.do(http.MethodPost, "/v1/tokens", testToken, c.req)
		if code != http.StatusBadRequest || !strings.Contains(errorOf(t, body).Error, c.want) {
			t.Errorf("%+v: %d %s, want 400 with %q", c.req, code, body, c.want)
		}
	}
}

func TestBundleIsPublic(t *testing.T) {
	h, _ := identityHarness(t)
	code, body := h.do(http.MethodGet, "/v1/bundle", "", nil)
	if code != http.StatusOK {
		t.Fatalf("bundle: %d %s", code, body)
	}
	blk, rest := pem.Decode(body)
	if blk == nil || blk.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("bundle is not one PEM certificate:\n%s", body)
	}
	root, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || !root.IsCA {
		t.Fatalf("bundle root (%v): CA %v", err, root != nil && root.IsCA)
	}
	code, body = h.do(http.MethodGet, "/v1/bundle?format=jwks", "", nil)
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &jwks) != nil || len(jwks.Keys) == 0 {
		t.Fatalf("jwks: %d %s", code, body)
	}
	if code, _ = h.do(http.MethodGet, "/v1/bundle?format=der", "", nil); code != http.StatusBadRequest {
		t.Fatalf("unknown format: %d", code)
	}
}

func TestCertificatesListIssuanceAndRoots(t *testing.T) {
	h, _ := identityHarness(t)
	out := getJSON[apiwire.CertificatesResponse](h, "/v1/certificates")
	if out.TrustDomain != "example.org" || len(out.Certificates) != 1 || out.Certificates[0].Workload != "web-1" ||
		len(out.Roots) != 1 || len(out.Roots[0].Fingerprint) != 64 || !out.Roots[0].Active {
		t.Fatalf("certificates: %+v", out)
	}
}

func TestIdentityEndpointsWithoutACA(t *testing.T) {
	h := newHarness(t, nil)
	if code, body := h.do(http.MethodGet, "/v1/bundle", "", nil); code != http.StatusServiceUnavailable {
		t.Fatalf("bundle without a CA: %d %s", code, body)
	}
	if code, body := h.do(http.MethodPost, "/v1/tokens", testToken, apiwire.TokenCreateRequest{Namespace: "a", ServiceAccount: "b"}); code != http.StatusServiceUnavailable {
		t.Fatalf("token without a CA: %d %s", code, body)
	}
}
