package envoy.authz

default allow := false

token := t if {
	auth := input.attributes.request.http.headers.authorization
	startswith(auth, "Bearer ")
	t := substring(auth, count("Bearer "), -1)
}

claims := payload if {
	[valid, _, payload] := io.jwt.decode_verify(token, {"secret": data.jwt.secret, "iss": data.jwt.issuer})
	valid
}

allow if {
	input.attributes.request.http.method in {"GET", "HEAD"}
	claims.role in {"admin", "reader"}
}

allow if claims.role == "admin"
