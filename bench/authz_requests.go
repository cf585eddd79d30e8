package bench

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// authzPolicy is the policy both authorizers run: a request is allowed
// when its path starts with /api/ and it carries a bearer JWT that
// verifies (HS256, signature, issuer and expiry) and whose role claim is
// one of data.roles.
const authzPolicy = `package envoy.authz

default allow := false

token := t if {
	[scheme, t] := split(input.attributes.request.http.headers.authorization, " ")
	lower(scheme) == "bearer"
}

claims := payload if {
	[valid, _, payload] := io.jwt.decode_verify(token, {"secret": data.jwt.secret, "iss": data.jwt.issuer})
	valid
}

allow if {
	startswith(input.attributes.request.http.path, "/api/")
	claims.role in data.roles
}
`

const (
	authzSecret = "embassy-bench-hs256-secret-not-for-production"
	authzIssuer = "https://issuer.bench.embassy.local"
)

// authzData is the policy's data document, mounted at data.
var authzData = json.RawMessage(`{"jwt": {"secret": "` + authzSecret + `", "issuer": "` + authzIssuer + `"}, "roles": ["admin", "reader", "writer"]}`)

// authzRequest is one CheckRequest of the fixed set, with the decision
// the policy is meant to reach, so a benchmark of a policy that denies
// everything cannot pass for a fast one.
type authzRequest struct {
	name string
	req  *authv3.CheckRequest
	want bool
}

// authzCredential is one way a request presents (or fails to present) a
// token; good says whether the policy accepts it.
type authzCredential struct {
	name   string
	header string
	good   bool
}

// authzRequests builds the fixed set of 50 requests: 10 credentials (4
// accepted; expired, badly signed, wrong issuer, malformed, missing and
// unaccepted-role ones) on 5 paths (3 under /api/), 12 of them allowed.
// Tokens are signed now, so the valid ones stay valid for an hour.
func authzRequests(now time.Time) []authzRequest {
	valid := func(role string, extra map[string]any) string {
		claims := map[string]any{"iss": authzIssuer, "sub": "user-" + role, "role": role,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		for k, v := range extra {
			claims[k] = v
		}
		return signHS256(authzSecret, claims)
	}
	creds := []authzCredential{
		{"reader", "Bearer " + valid("reader", nil), true},
		{"admin", "Bearer " + valid("admin", nil), true},
		{"writer", "Bearer " + valid("writer", nil), true},
		{"reader with more claims", "Bearer " + valid("reader", map[string]any{"email": "reader@bench.example", "scope": "books:read orders:read"}), true},
		{"guest role", "Bearer " + valid("guest", nil), false},
		{"expired", "Bearer " + signHS256(authzSecret, map[string]any{"iss": authzIssuer, "sub": "user-reader", "role": "reader",
			"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()}), false},
		{"bad signature", "Bearer " + signHS256("some-other-secret", map[string]any{"iss": authzIssuer, "role": "admin", "exp": now.Add(time.Hour).Unix()}), false},
		{"wrong issuer", "Bearer " + signHS256(authzSecret, map[string]any{"iss": "https://elsewhere.example", "role": "admin", "exp": now.Add(time.Hour).Unix()}), false},
		{"malformed", "Bearer not.a.jwt", false},
		{"none", "", false},
	}
	paths := []struct {
		method, path string
		api          bool
	}{
		{"GET", "/api/books/42?fields=title", true},
		{"POST", "/api/orders", true},
		{"GET", "/api/users/me", true},
		{"GET", "/admin/users", false},
		{"GET", "/healthz", false},
	}
	var out []authzRequest
	for _, c := range creds {
		for _, p := range paths {
			headers := map[string]string{
				":authority":   "bookstore.bench.svc",
				"user-agent":   "embassy-bench/1.0",
				"x-request-id": fmt.Sprintf("bench-%d", len(out)),
			}
			if c.header != "" {
				headers["authorization"] = c.header
			}
			out = append(out, authzRequest{
				name: fmt.Sprintf("%s %s, %s token", p.method, p.path, c.name),
				req:  checkRequest(p.method, p.path, headers),
				want: c.good && p.api,
			})
		}
	}
	return out
}

// checkRequest is the CheckRequest an Envoy sidecar sends for an inbound
// HTTP request from the frontend workload.
func checkRequest(method, path string, headers map[string]string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Principal: "spiffe://embassy.local/ns/bench/sa/frontend"},
		Destination: &authv3.AttributeContext_Peer{
			Principal: "spiffe://embassy.local/ns/bench/sa/bookstore",
		},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id:       headers["x-request-id"],
			Method:   method,
			Path:     path,
			Host:     headers[":authority"],
			Scheme:   "http",
			Protocol: "HTTP/1.1",
			Headers:  headers,
		}},
	}}
}

// signHS256 returns a compact JWT of claims signed with HMAC-SHA256.
func signHS256(secret string, claims map[string]any) string {
	enc := base64.RawURLEncoding
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(err) // claims are maps of strings and numbers
	}
	signed := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(payload)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signed))
	return strings.Join([]string{signed, enc.EncodeToString(mac.Sum(nil))}, ".")
}
