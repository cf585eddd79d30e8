package extauthz

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/open-policy-agent/opa/v1/ast"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/jwt/jwttest"
)

// jwtPolicy allows /public to anyone and everything else to a verified
// user whose sub is alice or who has the admin role, reading the claims
// where Envoy's jwt_authn puts them.
const jwtPolicy = `package envoy.authz

default allow := false

users := input.attributes.metadataContext.filterMetadata["envoy.filters.http.jwt_authn"].users

partners := input.attributes.metadataContext.filterMetadata["envoy.filters.http.jwt_authn"].partners

allow if input.parsed_path[0] == "public"

allow if users.sub == "alice"

allow if "admin" in partners.roles
`

const (
	usersIssuer    = "https://id.example.com"
	partnersIssuer = "https://partners.example.com"
)

// jwtBundle compiles jwtPolicy with a users provider (ES256, audience
// orders) whose JWKS is usersJWKS and a partners provider (RS256).
func jwtBundle(t *testing.T, usersJWKS, partnersJWKS string) *compile.Bundle {
	t.Helper()
	return compileRego(t, jwtPolicy, func(s *resource.AuthorizationPolicySpec) {
		s.JWTProviders = []resource.JWTProvider{
			{Name: "users", Issuer: usersIssuer, Audiences: []string{"orders"}, JWKS: json.RawMessage(usersJWKS)},
			{Name: "partners", Issuer: partnersIssuer, JWKS: mustQuote(t, partnersJWKS), FromHeader: "x-partner-token", Forward: true},
		}
	})
}

// mustQuote gives a JWKS as a JSON string, the other form a policy may use.
func mustQuote(t *testing.T, s string) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func bearer(tok string) map[string]string {
	return map[string]string{"authorization": "Bearer " + tok}
}

// claims are a valid token's claims for sub, overridden by edits.
func claims(sub string, edits map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": usersIssuer, "aud": []string{"orders", "other"}, "sub": sub,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range edits {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// wantStatus checks the HTTP verdict: 200 for allowed, else the denied
// status; 401s must carry the Bearer challenge.
func wantStatus(t *testing.T, resp *authv3.CheckResponse, want int) {
	t.Helper()
	if got := EnvoyStatus(resp); got != want {
		t.Fatalf("status %d, want %d (response %v)", EnvoyStatus(resp), want, resp)
	}
	if want == http.StatusUnauthorized {
		hs := resp.GetDeniedResponse().GetHeaders()
		if len(hs) != 1 || hs[0].GetHeader().GetKey() != "www-authenticate" || hs[0].GetHeader().GetValue() != `Bearer error="invalid_token"` {
			t.Fatalf("401 without the invalid_token challenge: %v", hs)
		}
	}
}

func TestJWTTokensThroughCheck(t *testing.T) {
	users := jwttest.NewKey(t, jose.ES256, "users-1")
	partners := jwttest.NewKey(t, jose.RS256, "partners-1")
	stranger := jwttest.NewKey(t, jose.ES256, "users-1") // same kid, other key
	c, _ := serve(t, load(t, jwtBundle(t, jwttest.JWKS(t, users), jwttest.JWKS(t, partners))), Options{})

	alice := users.Sign(t, claims("alice", nil))
	now := time.Now()
	cases := []struct {
		name    string
		path    string
		headers map[string]string
		want    int
	}{
		{"valid ES256 token of alice", "/orders", bearer(alice), 200},
		{"lower-case bearer prefix", "/orders", map[string]string{"authorization": "bearer " + alice}, 200},
		{"valid token of bob: the policy denies", "/orders", bearer(users.Sign(t, claims("bob", nil))), 403},
		{"valid RS256 partner token with the admin role", "/orders",
			map[string]string{"x-partner-token": partners.Sign(t, map[string]any{"iss": partnersIssuer, "sub": "p1", "roles": []string{"admin"}})}, 200},
		{"partner token without the role", "/orders",
			map[string]string{"x-partner-token": partners.Sign(t, map[string]any{"iss": partnersIssuer, "sub": "p2", "roles": []string{"viewer"}})}, 403},
		{"no token: the policy decides (public)", "/public", nil, 200},
		{"no token: the policy decides (private)", "/orders", nil, 403},
		{"basic credentials are not a token", "/orders", map[string]string{"authorization": "Basic YWxpY2U6c2VjcmV0"}, 403},
		{"expired within the clock skew still passes", "/orders", bearer(users.Sign(t, claims("alice", map[string]any{"exp": now.Add(-30 * time.Second).Unix()}))), 200},
		{"expired", "/orders", bearer(users.Sign(t, claims("alice", map[string]any{"exp": now.Add(-5 * time.Minute).Unix()}))), 401},
		{"expired, on a public path", "/public", bearer(users.Sign(t, claims("alice", map[string]any{"exp": now.Add(-5 * time.Minute).Unix()}))), 401},
		{"not yet valid", "/orders", bearer(users.Sign(t, claims("alice", map[string]any{"nbf": now.Add(10 * time.Minute).Unix()}))), 401},
		{"wrong issuer", "/orders", bearer(users.Sign(t, claims("alice", map[string]any{"iss": "https://evil.example.com"}))), 401},
		{"no issuer", "/orders", bearer(users.Sign(t, claims("alice", map[string]any{"iss": nil}))), 401},
		{"wrong audience", "/orders", bearer(users.Sign(t, claims("alice", map[string]any{"aud": "payments"}))), 401},
		{"no audience", "/orders", bearer(users.Sign(t, claims("alice", map[string]any{"aud": nil}))), 401},
		{"unsigned (alg none)", "/orders", bearer(jwttest.Unsigned(t, claims("alice", nil))), 401},
		{"tampered payload", "/orders", bearer(jwttest.Tampered(t, users.Sign(t, claims("bob", nil)), claims("alice", nil))), 401},
		{"signed by an unknown key", "/orders", bearer(stranger.Sign(t, claims("alice", nil))), 401},
		{"signed by the other provider's key", "/orders", bearer(partners.Sign(t, claims("alice", nil))), 401},
		{"garbage", "/orders", bearer("not.a.jwt"), 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus(t, check(t, c, httpRequest("GET", tc.path, tc.headers, "")), tc.want)
		})
	}
}

// TestJWTClaimsInInput checks the input the policy sees: the verified
// payload under the provider's name, numbers and lists intact, and the
// token header gone unless the provider forwards it.
func TestJWTClaimsInInput(t *testing.T) {
	users := jwttest.NewKey(t, jose.ES256, "k1")
	partners := jwttest.NewKey(t, jose.RS256, "k2")
	b := jwtBundle(t, jwttest.JWKS(t, users), jwttest.JWKS(t, partners))
	req := httpRequest("GET", "/orders", bearer(users.Sign(t, claims("alice", map[string]any{"level": 7}))), "")
	value, err := InputValue(req)
	if err != nil {
		t.Fatal(err)
	}
	value, remove, denied := jwtCheck(b, req, value, time.Now())
	if denied != nil {
		t.Fatalf("denied: %+v", denied)
	}
	if len(remove) != 1 || remove[0] != "authorization" {
		t.Fatalf("headers to remove %v, want [authorization]", remove)
	}
	doc, err := ast.JSON(value)
	if err != nil {
		t.Fatal(err)
	}
	attrs := doc.(map[string]any)["attributes"].(map[string]any)
	got := attrs["metadataContext"].(map[string]any)["filterMetadata"].(map[string]any)["envoy.filters.http.jwt_authn"].(map[string]any)["users"].(map[string]any)
	if got["sub"] != "alice" || got["level"] != json.Number("7") || got["iss"] != usersIssuer {
		t.Fatalf("claims %v", got)
	}
	if _, ok := attrs["request"].(map[string]any)["http"].(map[string]any)["headers"].(map[string]any)["authorization"]; ok {
		t.Fatal("the authorization header is still in the input though the provider does not forward it")
	}

	// Through Check, an allow tells Envoy to drop the token header too.
	c, _ := serve(t, load(t, b), Options{})
	resp := check(t, c, req)
	wantStatus(t, resp, 200)
	if hs := resp.GetOkResponse().GetHeadersToRemove(); len(hs) != 1 || hs[0] != "authorization" {
		t.Fatalf("headers_to_remove %v", hs)
	}
}

// TestJWTKeyRotation publishes the new key beside the old one before
// tokens are signed with it, then retires the old key.
func TestJWTKeyRotation(t *testing.T) {
	old := jwttest.NewKey(t, jose.ES256, "2024")
	next := jwttest.NewKey(t, jose.RS256, "2025")
	partners := jwttest.NewKey(t, jose.RS256, "p")
	oldTok, nextTok := old.Sign(t, claims("alice", nil)), next.Sign(t, claims("alice", nil))

	before := jwtBundle(t, jwttest.JWKS(t, old), jwttest.JWKS(t, partners))
	e := load(t, before)
	c, _ := serve(t, e, Options{})
	wantStatus(t, check(t, c, httpRequest("GET", "/orders", bearer(oldTok), "")), 200)
	wantStatus(t, check(t, c, httpRequest("GET", "/orders", bearer(nextTok), "")), 401)

	both := jwtBundle(t, jwttest.JWKS(t, old, next), jwttest.JWKS(t, partners))
	after := jwtBundle(t, jwttest.JWKS(t, next), jwttest.JWKS(t, partners))
	if before.Revision() == both.Revision() || both.Revision() == after.Revision() {
		t.Fatalf("a key change must change the revision: %s, %s, %s", before.Revision(), both.Revision(), after.Revision())
	}
	if err := e.Load(both); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, check(t, c, httpRequest("GET", "/orders", bearer(oldTok), "")), 200)
	wantStatus(t, check(t, c, httpRequest("GET", "/orders", bearer(nextTok), "")), 200)

	if err := e.Load(after); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, check(t, c, httpRequest("GET", "/orders", bearer(oldTok), "")), 401)
	wantStatus(t, check(t, c, httpRequest("GET", "/orders", bearer(nextTok), "")), 200)
}

// TestJWTDryRun: a bad token in dry-run is logged as a would-deny but
// passes, as nothing is denied in dry-run.
func TestJWTDryRun(t *testing.T) {
	users := jwttest.NewKey(t, jose.ES256, "k")
	b := compileRego(t, jwtPolicy, func(s *resource.AuthorizationPolicySpec) {
		s.Mode = "dry-run"
		s.JWTProviders = []resource.JWTProvider{{Name: "users", Issuer: usersIssuer, JWKS: json.RawMessage(jwttest.JWKS(t, users))}}
	})
	var logs syncBuffer
	c, _ := serve(t, load(t, b), Options{DecisionLog: logs.decisionLog(t)})
	expired := users.Sign(t, claims("alice", map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}))
	wantStatus(t, check(t, c, httpRequest("GET", "/orders", bearer(expired), "")), 200)
	lines := logs.lines(t)
	if len(lines) != 1 || lines[0]["decision"] != "would-deny" || lines[0]["status"] != float64(401) {
		t.Fatalf("logs %v", lines)
	}
}

// TestJWTBundleRoundTrip: the providers survive the wire and an agent's
// copy verifies alike.
func TestJWTBundleRoundTrip(t *testing.T) {
	users := jwttest.NewKey(t, jose.ES256, "k")
	partners := jwttest.NewKey(t, jose.RS256, "p")
	b := jwtBundle(t, jwttest.JWKS(t, users), jwttest.JWKS(t, partners))
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var got compile.Bundle
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.Revision() != b.Revision() || len(got.JWTProviders()) != 2 || got.JWTVerifier() == nil {
		t.Fatalf("round trip lost the providers: %s", raw)
	}
	c, _ := serve(t, load(t, &got), Options{})
	wantStatus(t, check(t, c, httpRequest("GET", "/orders", bearer(users.Sign(t, claims("alice", nil))), "")), 200)
	wantStatus(t, check(t, c, httpRequest("GET", "/orders", bearer(jwttest.Unsigned(t, claims("alice", nil))), "")), 401)
}
