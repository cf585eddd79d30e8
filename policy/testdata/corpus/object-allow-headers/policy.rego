package envoy.authz

default allowed := false

allowed if startswith(input.attributes.source.principal, "spiffe://bookstore.example/")

service_account := sa if {
	parts := split(input.attributes.source.principal, "/")
	sa := parts[count(parts) - 1]
}

allow := {
	"allowed": allowed,
	"headers": {"x-caller": service_account, "x-authz-policy": "object-allow-headers"},
	"request_headers_to_remove": ["authorization", "cookie"],
	"response_headers_to_add": {"x-authz": "checked"},
}
