package envoy.authz

default allow := false

allow if startswith(input.attributes.source.principal, "spiffe://bookstore.example/ns/web/")
