package envoy.authz

# No default: a request this policy says nothing about is undefined, and
# failureMode allow lets it through.
allow if input.attributes.request.http.method == "GET"

allow := false if input.attributes.request.http.method == "DELETE"
