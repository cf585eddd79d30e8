package envoy.authz

default allow := false

# /users/{id}/... belongs to the user whose id the gateway put in x-user-id.
allow if {
	input.parsed_path[0] == "users"
	input.parsed_path[1] == input.attributes.request.http.headers["x-user-id"]
}

allow if input.attributes.request.http.headers["x-user-role"] == "support"
