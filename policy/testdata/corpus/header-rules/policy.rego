package envoy.authz

default allow := false

headers := input.attributes.request.http.headers

bot if regex.match(`(?i)(bot|crawler|spider)`, headers["user-agent"])

allow if {
	not bot
	headers["x-tenant"] in {"acme", "globex"}
}
