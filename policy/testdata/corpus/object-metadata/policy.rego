package envoy.authz

tenant := input.attributes.request.http.headers["x-tenant"]

default allow := {
	"allowed": false,
	"http_status": 401,
	"body": "tenant required",
	"headers": {"www-authenticate": "Tenant realm=\"bookstore\""},
}

allow := {
	"allowed": true,
	"headers": {"x-tenant": tenant},
	"request_headers_to_remove": ["x-debug"],
	"response_headers_to_add": {"x-served-for": tenant},
	"query_parameters_to_remove": ["debug"],
	"query_parameters_to_set": {"tenant": tenant},
	"dynamic_metadata": {"tenant": tenant, "tags": ["checked", "known"], "trusted": true},
} if tenant in data.tenants

allow := {
	"allowed": false,
	"http_status": 429,
	"body": "{\"error\":\"unknown tenant\"}",
	"headers": {"retry-after": "30", "x-reason": ["unknown", "tenant"]},
	"dynamic_metadata": {"tenant": tenant, "trusted": false},
} if {
	tenant
	not tenant in data.tenants
}
