package envoy.authz

default allow := false

# spiffe://<trust domain>/ns/<namespace>/sa/<service account>
id := {"trust_domain": m[1], "namespace": m[2], "service_account": m[3]} if {
	[m] := regex.find_all_string_submatch_n(`^spiffe://([^/]+)/ns/([^/]+)/sa/([^/]+)$`, input.attributes.source.principal, 1)
}

allow if {
	id.trust_domain in data.trusted_domains
	id.service_account in data.callers[id.namespace]
}
