package envoy.authz

default allow := false

allow if {
	some tenant in input.parsed_query.tenant
	tenant in data.tenants
	not input.parsed_query.debug
}
