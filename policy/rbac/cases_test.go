package rbac

import "encoding/json"

// policyCase is one policy of the table. Rego starts on line 1 of
// policy.rego so locations in wantLocation are easy to read off.
type policyCase struct {
	name  string
	rego  string
	data  string
	query string
	// compiled policies are compared with testdata/<name>.json and driven
	// through the differential test; the others must name wantLocation.
	compiled     bool
	wantLocation string
	wantReason   string // a fragment of Reason
}

func (c policyCase) dataJSON() json.RawMessage {
	if c.data == "" {
		return nil
	}
	return json.RawMessage(c.data)
}

var cases = []policyCase{
	{
		name:     "method-path-allowlist",
		compiled: true,
		rego: `package envoy.authz

default allow := false

allow if {
	input.attributes.request.http.method in {"GET", "HEAD"}
	startswith(input.attributes.request.http.path, "/api/")
}

allow if {
	input.attributes.request.http.method == "POST"
	input.attributes.request.http.path == "/api/orders"
}
`,
	},
	{
		name:     "principal-allowlist",
		compiled: true,
		data:     `{"callers": ["spiffe://mesh.local/ns/shop/sa/frontend", "spiffe://mesh.local/ns/shop/sa/checkout"]}`,
		rego: `package envoy.authz

default allow := false

allow if input.attributes.source.principal == data.callers[_]

allow if startswith(input.attributes.source.principal, "spiffe://mesh.local/ns/ops/")
`,
	},
	{
		name:     "header-rules",
		compiled: true,
		rego: `package envoy.authz

default allow := false

allow if {
	input.attributes.request.http.headers["x-tenant"] == "acme"
	startswith(input.attributes.request.http.headers.authorization, "Bearer ")
	input.attributes.request.http.headers["x-env"] != "dev"
}

allow if input.attributes.request.http.headers["x-canary"]
`,
	},
	{
		name:     "source-cidr",
		compiled: true,
		rego: `package envoy.authz

default allow := false

allow if net.cidr_contains("10.0.0.0/8", input.attributes.source.address.socketAddress.address)

allow if input.attributes.source.address.socketAddress.address == "192.168.1.5"
`,
	},
	{
		name:     "port-and-sni",
		compiled: true,
		rego: `package envoy.authz

default allow := false

allow if {
	input.attributes.destination.address.socketAddress.portValue == 8443
	input.attributes.tlsSession.sni == "api.example.com"
}

allow if {
	input.attributes.destination.address.socketAddress.portValue in [8080, 9090]
	endswith(input.attributes.request.http.host, ".internal")
}
`,
	},
	{
		name:     "negation",
		compiled: true,
		rego: `package envoy.authz

default allow := false

allow if {
	not deny
	not input.attributes.request.http.method in {"DELETE", "PUT"}
}

deny if input.attributes.request.http.headers["x-bad"] == "1"

deny if startswith(input.attributes.request.http.path, "/admin")

deny if input.attributes.source.principal == "spiffe://mesh.local/ns/shop/sa/banned"
`,
	},
	{
		name:     "parsed-path-and-regex",
		compiled: true,
		rego: `package envoy.authz

default allow := false

allow if input.parsed_path == ["health"]

allow if {
	input.parsed_path[0] == "public"
	input.attributes.request.http.method == "GET"
}

allow if {
	input.parsed_path[1] == "users"
	regex.match("^/v[0-9]+/", input.attributes.request.http.path)
}
`,
	},
	{
		name:     "always-allow",
		compiled: true,
		rego: `package envoy.authz

allow := true
`,
	},
	{
		name:     "always-deny",
		compiled: true,
		data:     `{"flags": {"open": false}}`,
		rego: `package envoy.authz

default allow := false

allow if data.flags.open == true
`,
	},
	{
		name:         "jwt-decode-verify",
		wantLocation: "policy.rego:6:2",
		wantReason:   "io.jwt.decode_verify",
		rego: `package envoy.authz

default allow := false

allow if {
	[valid, _, payload] := io.jwt.decode_verify(bearer, {"secret": "s3cret"})
	valid
	payload.sub == "alice"
}

bearer := t if {
	v := input.attributes.request.http.headers.authorization
	startswith(v, "Bearer ")
	t := substring(v, 7, -1)
}
`,
	},
	{
		name:         "parsed-body",
		wantLocation: "policy.rego:7:2",
		wantReason:   "request body",
		rego: `package envoy.authz

default allow := false

allow if {
	input.attributes.request.http.method == "POST"
	input.parsed_body.account == "admin"
}
`,
	},
	{
		name:         "parsed-query",
		wantLocation: "policy.rego:6:2",
		wantReason:   "query parameter",
		rego: `package envoy.authz

default allow := false

allow if {
	input.parsed_query.debug == ["1"]
}
`,
	},
	{
		name:         "object-result",
		wantLocation: "policy.rego:3:1",
		wantReason:   "yields the object",
		rego: `package envoy.authz

default allow := {"allowed": false}

allow := {"allowed": true, "headers": {"x-checked": "yes"}} if {
	input.attributes.request.http.method == "GET"
}
`,
	},
	{
		name:         "default-true",
		wantLocation: "policy.rego:3:1",
		wantReason:   "default is true",
		rego: `package envoy.authz

default allow := true

allow := false if input.attributes.request.http.method == "DELETE"
`,
	},
	{
		name:         "two-unknowns",
		wantLocation: "policy.rego:4:2",
		wantReason:   "compared with input.attributes.request.http.headers",
		rego: `package envoy.authz

allow if {
	input.attributes.request.http.headers["x-user"] == input.attributes.request.http.headers["x-owner"]
}
`,
	},
	{
		name:         "time",
		wantLocation: "policy.rego:4:2",
		wantReason:   "time.now_ns",
		rego: `package envoy.authz

allow if {
	time.now_ns() < 1900000000000000000
	input.attributes.request.http.method == "GET"
}
`,
	},
}
