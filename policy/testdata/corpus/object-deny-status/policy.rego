package envoy.authz

auth := input.attributes.request.http.headers.authorization

default allow := {
	"allowed": false,
	"http_status": 401,
	"headers": {"www-authenticate": "Bearer realm=\"bookstore\""},
	"body": "{\"error\":\"token required\"}",
}

allow := {"allowed": true} if auth == concat(" ", ["Bearer", data.token])

allow := {
	"allowed": false,
	"status_code": 403,
	"body": "forbidden",
} if {
	auth
	auth != concat(" ", ["Bearer", data.token])
}
