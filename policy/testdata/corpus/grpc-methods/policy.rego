package envoy.authz

default allow := false

service := input.parsed_path[0]

method := input.parsed_path[1]

allow if {
	count(input.parsed_path) == 2
	input.attributes.request.http.headers["content-type"] == "application/grpc"
	method in data.services[service]
}
