package bookstore.gateway

deny contains "writes are frozen" if {
	data.freeze
	input.attributes.request.http.method != "GET"
}

deny contains "caller outside the mesh" if not in_mesh

in_mesh if startswith(input.attributes.source.principal, "spiffe://bookstore.example/")

decision := {
	"allowed": count(deny) == 0,
	"reason": concat("; ", sort(deny)),
	"http_status": 403,
	"body": concat("\n", sort(deny)),
}
