package envoy.authz

default allow := false

allowed_prefixes := ["/api/books/", "/healthz"]

allow if {
	some prefix in allowed_prefixes
	startswith(input.attributes.request.http.path, prefix)
}
