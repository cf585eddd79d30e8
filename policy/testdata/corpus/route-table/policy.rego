package envoy.authz

default allow := false

allow if {
	some route in data.routes
	startswith(input.attributes.request.http.path, route.prefix)
	input.attributes.request.http.method in route.methods
}
