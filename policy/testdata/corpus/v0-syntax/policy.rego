package envoy.authz

default allow = false

allow {
	input.attributes.request.http.method == "GET"
	count(deny) == 0
}

deny[msg] {
	startswith(input.attributes.request.http.path, "/internal/")
	msg := "internal path"
}
