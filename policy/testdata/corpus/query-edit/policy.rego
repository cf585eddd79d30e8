package envoy.authz

tenant := input.parsed_query.tenant[0]

allow := {
	"allowed": true,
	"query_parameters_to_remove": ["api_token"],
	"query_parameters_to_set": {"tenant_verified": "true"},
	"dynamic_metadata": {"tenant": tenant, "tier": data.tiers[tenant]},
} if tenant in object.keys(data.tiers)

default allow := {"allowed": false, "dynamic_metadata": {"tenant": "unknown"}}
