package envoy.authz

default allow := false

caller := data.api_keys[input.attributes.request.http.headers["x-api-key"]]

allow if caller in data.allowed_callers
