package envoy.authz

default allow := false

token := t if {
	[_, t] := split(input.attributes.request.http.headers.authorization, " ")
}

claims := payload if {
	[valid, _, payload] := io.jwt.decode_verify(token, {
		"cert": data.idp.public_key,
		"iss": data.idp.issuer,
		"aud": data.idp.audience,
	})
	valid
}

scopes := split(claims.scope, " ")

needed := "books:read" if input.attributes.request.http.method == "GET"

needed := "books:write" if input.attributes.request.http.method in {"POST", "PUT", "DELETE"}

allow if needed in scopes
