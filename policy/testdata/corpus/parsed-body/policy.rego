package envoy.authz

default allow := false

allow if {
	input.version == {"ext_authz": "v3", "encoding": "protojson"}
	not input.truncated_body
	input.parsed_body.quantity <= data.max_quantity
}

allow if input.parsed_body.action == ["subscribe"]
