package envoy.authz

default allow := false

http := input.attributes.request.http

allow if {
	some role in data.bindings[input.attributes.source.principal]
	some grant in data.roles[role]
	grant.method == http.method
	glob.match(grant.path, ["/"], http.path)
}
