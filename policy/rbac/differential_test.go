package rbac

import (
	"context"
	"fmt"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"

	"embassy.dev/embassy/internal/authztest"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"
	"embassy.dev/embassy/policy/extauthz"
)

// request is the part of a CheckRequest the policies look at.
type request struct {
	method, path, host string
	headers            map[string]string
	principal          string // empty: no client certificate
	source             string
	port               uint32
	sni                string
}

// checkRequest builds the CheckRequest Envoy's ext_authz filter would send,
// pseudo-headers included in the header map.
func (r request) checkRequest() *authv3.CheckRequest {
	method, host, port, source := r.method, r.host, r.port, r.source
	if method == "" {
		method = "GET"
	}
	if host == "" {
		host = "shop.example"
	}
	if port == 0 {
		port = 8080
	}
	if source == "" {
		source = "172.16.0.9"
	}
	headers := map[string]string{":method": method, ":path": r.path, ":authority": host}
	for k, v := range r.headers {
		headers[k] = v
	}
	sock := func(addr string, port uint32) *corev3.Address {
		return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: addr, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
		}}}
	}
	attrs := &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: sock(source, 51234), Principal: r.principal},
		Destination: &authv3.AttributeContext_Peer{Address: sock("10.9.9.9", port)},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: method, Path: r.path, Host: host, Headers: headers, Protocol: "HTTP/1.1",
		}},
	}
	if r.sni != "" {
		attrs.TlsSession = &authv3.AttributeContext_TLSSession{Sni: r.sni}
	}
	return &authv3.CheckRequest{Attributes: attrs}
}

const (
	frontend = "spiffe://mesh.local/ns/shop/sa/frontend"
	checkout = "spiffe://mesh.local/ns/shop/sa/checkout"
	banned   = "spiffe://mesh.local/ns/shop/sa/banned"
)

// requests is what every compiled policy is asked about: each varies the
// attributes some policy of the table looks at, around its edges.
var requests = []request{
	{path: "/api/items", principal: frontend, source: "10.1.2.3"},
	{method: "HEAD", path: "/api/", sni: "api.example.com", port: 8443, source: "192.168.1.5"},
	{method: "POST", path: "/api/orders", principal: checkout, port: 9090, host: "orders.internal"},
	{method: "POST", path: "/api/orders?retry=1", principal: checkout},
	{method: "POST", path: "/api/orders/1", principal: "spiffe://mesh.local/ns/ops/sa/oncall"},
	{method: "DELETE", path: "/api/items/1", principal: "spiffe://mesh.local/ns/ops/sa/oncall", source: "10.255.0.1"},
	{method: "PUT", path: "/admin/users", principal: frontend},
	{path: "/admin", principal: banned},
	{path: "/health", source: "192.168.1.6"},
	{path: "//health", port: 8443, sni: "other.example.com"},
	{path: "/health?probe=1", host: "a.internal", port: 9090},
	{path: "/healthz", source: "2001:db8::1"},
	{path: "///health"},
	{path: "//public/x"},
	{path: "//public"},
	{path: "/"},
	{path: "/public"},
	{path: "/public/css/site.css", principal: banned},
	{method: "POST", path: "/publicity"},
	{path: "/v1/users", headers: map[string]string{"x-bad": "1"}},
	{path: "/v2/users/7?x=/v3/"},
	{path: "/x/users", headers: map[string]string{"x-bad": "0"}},
	{path: "/API/items", principal: frontend},
	{method: "PATCH", path: "/api/items", headers: map[string]string{"x-tenant": "acme", "authorization": "Bearer abc"}},
	{path: "/t", headers: map[string]string{"x-tenant": "acme", "authorization": "Bearer abc", "x-env": "dev"}},
	{path: "/t", headers: map[string]string{"x-tenant": "acme", "authorization": "Bearer abc", "x-env": "prod"}},
	{path: "/t", headers: map[string]string{"x-tenant": "acme", "authorization": "Basic abc", "x-env": "prod"}},
	{path: "/t", headers: map[string]string{"x-canary": ""}},
	{method: "HEAD", path: "/api/x", port: 8443, sni: "api.example.com", host: "b.internal", principal: checkout},
}

// TestDifferential asks each compiled policy about every request twice:
// through the ext_authz Check server over gRPC (the policy evaluated by
// OPA with the OPA-Envoy input) and through the RBAC rules compiled from
// it. The two must agree on every request. A request whose path an
// Embassy sidecar would have normalized never reaches either filter as
// written; the Check server refuses it outright (policy/extauthz
// checkPath), so its RBAC answer is compared with the engine's own
// decision on the same input, which is what a proxyless gRPC server's
// RBAC stands in for (TestNormalizedPaths covers what Envoy does with it).
func TestDifferential(t *testing.T) {
	for _, c := range cases {
		if !c.compiled {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			rules := compileCase(t, c).RBAC
			client, e := checkServer(t, c)
			allowed, raw := 0, 0
			for i, r := range requests {
				req := r.checkRequest()
				var viaPolicy bool
				if n, ok := extauthz.NormalizePath(r.path); ok && n == r.path {
					viaPolicy = checkAllows(t, client, req)
				} else {
					viaPolicy = engineAllows(t, e, req)
					raw++
				}
				viaRBAC := allows(rules, req)
				if viaPolicy != viaRBAC {
					t.Errorf("request %d %+v: policy allows=%v, RBAC allows=%v", i, r, viaPolicy, viaRBAC)
				}
				if viaRBAC {
					allowed++
				}
			}
			if raw == 0 || raw == len(requests) {
				t.Errorf("%d of %d requests have paths a sidecar normalizes; want some of both", raw, len(requests))
			}
			// Each policy must see both verdicts, or the comparison says
			// little; the constant policies must be constant.
			switch c.name {
			case "always-allow":
				if allowed != len(requests) {
					t.Errorf("allowed %d of %d", allowed, len(requests))
				}
			case "always-deny":
				if allowed != 0 {
					t.Errorf("allowed %d of %d", allowed, len(requests))
				}
			default:
				if allowed == 0 || allowed == len(requests) {
					t.Errorf("allowed %d of %d requests: the requests do not exercise this policy", allowed, len(requests))
				}
			}
		})
	}
}

// checkAllows asks the Check server.
func checkAllows(t *testing.T, client authv3.AuthorizationClient, req *authv3.CheckRequest) bool {
	t.Helper()
	resp, err := client.Check(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	allowed := resp.GetStatus().GetCode() == int32(codes.OK)
	if !allowed && resp.GetStatus().GetCode() != int32(codes.PermissionDenied) {
		t.Fatalf("ext_authz status %v", resp.GetStatus())
	}
	return allowed
}

// engineAllows asks the engine behind the Check server directly, with the
// input the Check server would build.
func engineAllows(t *testing.T, e *engine.Engine, req *authv3.CheckRequest) bool {
	t.Helper()
	input, err := extauthz.BuildInput(req)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Decide(context.Background(), input)
	if err != nil {
		t.Fatal(err)
	}
	return d.Allowed
}

// checkServer serves the policy from the real Check server.
func checkServer(t *testing.T, c policyCase) (authv3.AuthorizationClient, *engine.Engine) {
	t.Helper()
	b, err := compile.Compile("default/"+c.name, &resource.AuthorizationPolicySpec{
		Modules: []resource.RegoModule{{Name: "policy.rego", Rego: c.rego}},
		Data:    c.dataJSON(),
		Query:   c.query,
	})
	if err != nil {
		t.Fatal(err)
	}
	return authztest.Serve(t, b)
}

// TestDifferentialRequestsAreDistinct keeps the request set honest: every
// request differs from every other.
func TestDifferentialRequestsAreDistinct(t *testing.T) {
	if len(requests) < 10 {
		t.Fatalf("%d requests, want at least 10", len(requests))
	}
	seen := map[string]int{}
	for i, r := range requests {
		key := fmt.Sprintf("%+v", r.checkRequest())
		if j, dup := seen[key]; dup {
			t.Errorf("requests %d and %d are the same", j, i)
		}
		seen[key] = i
	}
}
