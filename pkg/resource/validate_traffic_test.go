package resource

import "testing"

// rule wraps one rule's YAML (indented as a list item's fields) in a Route.
func rule(body string) string { return "service: a\nrules:\n- " + body }

func TestValidateRouteSurface(t *testing.T) {
	const b = "backends: [{}]\n  "
	runSpecCases(t, []specCase{
		// Matches.
		{name: "matches ok", kind: KindRoute, spec: rule("matches:\n  - path: {regex: '^/v[0-9]+/.*'}\n    headers: [{name: x-a, suffix: .com}, {name: x-b, regex: 'a+'}, {name: x-c, present: true}, {name: x-d, absent: true}, {name: x-e, exact: e, invert: true}]\n    queryParams: [{name: q, exact: '1'}, {name: r, regex: 'a.*'}, {name: s, present: true}]\n    method: POST\n  - grpc: {service: helloworld.Greeter, method: SayHello}\n  - grpc: {service: helloworld.Greeter}\n  backends: [{}]")},
		{name: "path regex over envoy's program size", kind: KindRoute, spec: rule("matches: [{path: {regex: '/tx/[0-9a-f]{64}'}}]\n  backends: [{}]"), path: "spec.rules[0].matches[0].path.regex", msg: "RE2 program of up to 13"},
		{name: "header regex over envoy's program size", kind: KindRoute, spec: rule("matches: [{headers: [{name: x-id, regex: '[0-9a-f]{64}'}]}]\n  backends: [{}]"), path: "spec.rules[0].matches[0].headers[0].regex", msg: "over Envoy's limit of 100"},
		{name: "rewrite regex over envoy's program size", kind: KindRoute, spec: rule("rewrite: {regex: {pattern: '[0-9a-f]{64}', substitution: x}}\n  backends: [{}]"), path: "spec.rules[0].rewrite.regex.pattern", msg: "over Envoy's limit of 100"},
		{name: "regex under envoy's program size", kind: KindRoute, spec: rule("matches: [{path: {regex: '/tx/[0-9a-f]{32}'}}]\n  backends: [{}]")},
		{name: "path regex invalid", kind: KindRoute, spec: rule("matches: [{path: {regex: '(a'}}]\n  backends: [{}]"), path: "spec.rules[0].matches[0].path.regex", msg: "must be an RE2 regular expression"},
		{name: "path regex lookahead is not RE2", kind: KindRoute, spec: rule("matches: [{path: {regex: '/(?=a)'}}]\n  backends: [{}]"), path: "spec.rules[0].matches[0].path.regex", msg: "RE2"},
		{name: "path regex and prefix", kind: KindRoute, spec: rule("matches: [{path: {regex: '/a', prefix: /a}}]\n  backends: [{}]"), path: "spec.rules[0].matches[0].path", msg: "exactly one of exact, prefix or regex"},
		{name: "header regex invalid", kind: KindRoute, spec: rule("matches: [{headers: [{name: h, regex: '['}]}]\n  backends: [{}]"), path: "spec.rules[0].matches[0].headers[0].regex", msg: "RE2"},
		{name: "header present and absent", kind: KindRoute, spec: rule("matches: [{headers: [{name: h, present: true, absent: true}]}]\n  backends: [{}]"), path: "spec.rules[0].matches[0].headers[0]", msg: "exactly one of"},
		{name: "header name invalid", kind: KindRoute, spec: rule("matches: [{headers: [{name: 'a b', present: true}]}]\n  backends: [{}]"), path: "spec.rules[0].matches[0].headers[0].name", msg: "HTTP header name"},
		{name: "query name missing", kind: KindRoute, spec: rule("matches: [{queryParams: [{exact: x}]}]\n  backends: [{}]"), path: "spec.rules[0].matches[0].queryParams[0].name", msg: "required"},
		{name: "query two conditions", kind: KindRoute, spec: rule("matches: [{queryParams: [{name: q, exact: x, present: true}]}]\n  backends: [{}]"), path: "spec.rules[0].matches[0].queryParams[0]", msg: "exactly one of exact, regex or present"},
		{name: "query regex invalid", kind: KindRoute, spec: rule("matches: [{queryParams: [{name: q, regex: '*'}]}]\n  backends: [{}]"), path: "spec.rules[0].matches[0].queryParams[0].regex", msg: "RE2"},
		{name: "method unknown", kind: KindRoute, spec: rule("matches: [{method: get}]\n  backends: [{}]"), path: "spec.rules[0].matches[0].method", msg: `must be one of GET, HEAD`},
		{name: "grpc with path", kind: KindRoute, spec: rule("matches: [{path: {prefix: /}, grpc: {service: a.B}}]\n  backends: [{}]"), path: "spec.rules[0].matches[0].grpc", msg: "cannot be combined with path"},
		{name: "grpc service missing", kind: KindRoute, spec: rule("matches: [{grpc: {method: M}}]\n  backends: [{}]"), path: "spec.rules[0].matches[0].grpc.service", msg: "required"},
		{name: "grpc service with slash", kind: KindRoute, spec: rule("matches: [{grpc: {service: a/B}}]\n  backends: [{}]"), path: "spec.rules[0].matches[0].grpc.service", msg: "fully qualified protobuf service name"},
		{name: "grpc method invalid", kind: KindRoute, spec: rule("matches: [{grpc: {service: a.B, method: 'Say/Hello'}}]\n  backends: [{}]"), path: "spec.rules[0].matches[0].grpc.method", msg: "protobuf method name"},

		// Retries.
		{name: "retries backoff ok", kind: KindRoute, spec: rule(b + "timeout: 2s\n  retries: {attempts: 3, perTryTimeout: 500ms, retriableStatusCodes: [503, 429], backoff: {base: 25ms, max: 250ms}}")},
		{name: "retries backoff base missing", kind: KindRoute, spec: rule(b + "retries: {attempts: 3, backoff: {max: 1s}}"), path: "spec.rules[0].retries.backoff.base", msg: "required"},
		{name: "retries backoff max below base", kind: KindRoute, spec: rule(b + "retries: {attempts: 3, backoff: {base: 1s, max: 100ms}}"), path: "spec.rules[0].retries.backoff.max", msg: "must be at least base 1s"},
		{name: "retries backoff base zero", kind: KindRoute, spec: rule(b + "retries: {attempts: 3, backoff: {base: 0s}}"), path: "spec.rules[0].retries.backoff.base", msg: "must be > 0"},
		{name: "retries status code", kind: KindRoute, spec: rule(b + "retries: {attempts: 3, retriableStatusCodes: [600]}"), path: "spec.rules[0].retries.retriableStatusCodes[0]", msg: "from 100 to 599, got 600"},
		{name: "idle timeout zero", kind: KindRoute, spec: rule(b + "idleTimeout: 0s"), path: "spec.rules[0].idleTimeout", msg: "must be > 0"},

		// Fault.
		{name: "fault ok", kind: KindRoute, spec: rule(b + "fault: {delay: {fixed: 100ms, percent: 50}, abort: {grpcStatus: UNAVAILABLE, percent: 10}, headers: [{name: x-chaos, exact: 'on'}]}")},
		{name: "fault abort http ok", kind: KindRoute, spec: rule(b + "fault: {abort: {httpStatus: 503, percent: 100}}")},
		{name: "fault abort grpc number ok", kind: KindRoute, spec: rule(b + "fault: {abort: {grpcStatus: '14', percent: 100}}")},
		{name: "fault empty", kind: KindRoute, spec: rule(b + "fault: {}"), path: "spec.rules[0].fault", msg: "set delay, abort or both"},
		{name: "fault abort without status", kind: KindRoute, spec: rule(b + "fault: {abort: {percent: 10}}"), path: "spec.rules[0].fault.abort", msg: "needs a status"},
		{name: "fault abort two statuses", kind: KindRoute, spec: rule(b + "fault: {abort: {httpStatus: 503, grpcStatus: UNAVAILABLE, percent: 10}}"), path: "spec.rules[0].fault.abort", msg: "only one of httpStatus and grpcStatus"},
		{name: "fault abort http status", kind: KindRoute, spec: rule(b + "fault: {abort: {httpStatus: 99, percent: 10}}"), path: "spec.rules[0].fault.abort.httpStatus", msg: "from 200 to 599, got 99"},
		{name: "fault abort grpc unknown", kind: KindRoute, spec: rule(b + "fault: {abort: {grpcStatus: BROKEN, percent: 10}}"), path: "spec.rules[0].fault.abort.grpcStatus", msg: "gRPC status name"},
		{name: "fault abort grpc ok status", kind: KindRoute, spec: rule(b + "fault: {abort: {grpcStatus: OK, percent: 10}}"), path: "spec.rules[0].fault.abort.grpcStatus", msg: "must be an error"},
		{name: "fault abort percent over", kind: KindRoute, spec: rule(b + "fault: {abort: {httpStatus: 503, percent: 100.5}}"), path: "spec.rules[0].fault.abort.percent", msg: "from 0 to 100, got 100.5"},
		{name: "fault delay percent negative", kind: KindRoute, spec: rule(b + "fault: {delay: {fixed: 1s, percent: -1}}"), path: "spec.rules[0].fault.delay.percent", msg: "from 0 to 100"},
		{name: "fault delay missing", kind: KindRoute, spec: rule(b + "fault: {delay: {percent: 5}}"), path: "spec.rules[0].fault.delay.fixed", msg: "required"},
		{name: "fault delay zero", kind: KindRoute, spec: rule(b + "fault: {delay: {fixed: 0ms, percent: 5}}"), path: "spec.rules[0].fault.delay.fixed", msg: "must be > 0"},
		{name: "fault header", kind: KindRoute, spec: rule(b + "fault: {abort: {httpStatus: 503, percent: 1}, headers: [{name: h}]}"), path: "spec.rules[0].fault.headers[0]", msg: "exactly one of"},

		// Mirror.
		{name: "mirror ok", kind: KindRoute, spec: rule(b + "mirror: {service: shadow, subset: {v: b}, percent: 25}")},
		{name: "mirror percent", kind: KindRoute, spec: rule(b + "mirror: {percent: 101}"), path: "spec.rules[0].mirror.percent", msg: "from 0 to 100, got 101"},
		{name: "mirror service", kind: KindRoute, spec: rule(b + "mirror: {service: Shadow, percent: 1}"), path: "spec.rules[0].mirror.service", msg: "DNS-1123"},

		// Header edits.
		{name: "headers ok", kind: KindRoute, spec: rule(b + "requestHeaders: {add: {x-a: '1'}, set: {x-b: '2'}, remove: [x-c]}\n  responseHeaders: {set: {cache-control: no-store}}")},
		{name: "headers pseudo", kind: KindRoute, spec: rule(b + "requestHeaders: {set: {':path': /x}}"), path: "spec.rules[0].requestHeaders.set.:path", msg: "cannot be edited"},
		{name: "headers host", kind: KindRoute, spec: rule(b + "requestHeaders: {add: {Host: x}}"), path: "spec.rules[0].requestHeaders.add.Host", msg: "rewrite.host"},
		{name: "headers add and set", kind: KindRoute, spec: rule(b + "responseHeaders: {add: {x: '1'}, set: {x: '2'}}"), path: "spec.rules[0].responseHeaders.set.x", msg: "both added and set"},
		{name: "headers set and remove", kind: KindRoute, spec: rule(b + "requestHeaders: {set: {x: '1'}, remove: [x]}"), path: "spec.rules[0].requestHeaders.remove[0]", msg: "both removed and added or set"},
		{name: "headers value newline", kind: KindRoute, spec: rule(b + "requestHeaders: {set: {x: \"a\\nb\"}}"), path: "spec.rules[0].requestHeaders.set.x", msg: "CR, LF or NUL"},

		// Rewrite, redirect, direct response.
		{name: "rewrite ok", kind: KindRoute, spec: rule(b + "rewrite: {prefix: /v2/, host: api.internal}")},
		{name: "rewrite regex ok", kind: KindRoute, spec: rule(b + "rewrite: {regex: {pattern: '^/old/(.*)$', substitution: '/new/\\1'}}")},
		{name: "rewrite prefix and regex", kind: KindRoute, spec: rule(b + "rewrite: {prefix: /a, regex: {pattern: a, substitution: b}}"), path: "spec.rules[0].rewrite", msg: "at most one of prefix and regex"},
		{name: "rewrite regex invalid", kind: KindRoute, spec: rule(b + "rewrite: {regex: {pattern: '(', substitution: b}}"), path: "spec.rules[0].rewrite.regex.pattern", msg: "RE2"},
		{name: "rewrite empty", kind: KindRoute, spec: rule(b + "rewrite: {}"), path: "spec.rules[0].rewrite", msg: "set prefix, regex or host"},
		{name: "rewrite host with path", kind: KindRoute, spec: rule(b + "rewrite: {host: a/b}"), path: "spec.rules[0].rewrite.host", msg: "host name"},
		{name: "redirect ok", kind: KindRoute, spec: rule("redirect: {scheme: https, host: example.org, port: 8443, path: /new, responseCode: 308}")},
		{name: "redirect with backends", kind: KindRoute, spec: rule("backends: [{}]\n  redirect: {path: /new}"), path: "spec.rules[0].backends", msg: "cannot be combined with redirect"},
		{name: "redirect with retries", kind: KindRoute, spec: rule("retries: {attempts: 2}\n  redirect: {path: /new}"), path: "spec.rules[0].retries", msg: "cannot be combined with redirect"},
		{name: "redirect and direct response", kind: KindRoute, spec: rule("redirect: {path: /new}\n  directResponse: {status: 200}"), path: "spec.rules[0]", msg: "at most one of redirect and directResponse"},
		{name: "redirect empty", kind: KindRoute, spec: rule("redirect: {responseCode: 302}"), path: "spec.rules[0].redirect", msg: "at least one of scheme, host, port or path"},
		{name: "redirect code", kind: KindRoute, spec: rule("redirect: {path: /x, responseCode: 200}"), path: "spec.rules[0].redirect.responseCode", msg: "one of 301, 302, 303, 307, 308"},
		{name: "redirect scheme", kind: KindRoute, spec: rule("redirect: {scheme: ftp}"), path: "spec.rules[0].redirect.scheme", msg: "one of http, https"},
		{name: "redirect path", kind: KindRoute, spec: rule("redirect: {path: x}"), path: "spec.rules[0].redirect.path", msg: "must start with '/'"},
		{name: "direct response ok", kind: KindRoute, spec: rule("directResponse: {status: 503, body: maintenance}")},
		{name: "direct response status", kind: KindRoute, spec: rule("directResponse: {status: 600}"), path: "spec.rules[0].directResponse.status", msg: "from 200 to 599, got 600"},
		{name: "direct response with mirror", kind: KindRoute, spec: rule("directResponse: {status: 200}\n  mirror: {percent: 1}"), path: "spec.rules[0].mirror", msg: "cannot be combined with directResponse"},
		{name: "no backends nor answer", kind: KindRoute, spec: rule("name: r"), path: "spec.rules[0].backends", msg: "at least one backend"},

		// Rate limit.
		{name: "rate limit ok", kind: KindRoute, spec: rule(b + "rateLimit: {maxTokens: 10, tokensPerFill: 5, fillInterval: 1s, status: 503, responseHeaders: {x-limited: 'true'}}")},
		{name: "rate limit fill interval short", kind: KindRoute, spec: rule(b + "rateLimit: {maxTokens: 10, fillInterval: 500us}"), path: "spec.rules[0].rateLimit.fillInterval", msg: "at least 50ms"},
		{name: "rate limit fill interval under envoy's minimum", kind: KindRoute, spec: rule(b + "rateLimit: {maxTokens: 10, fillInterval: 20ms}"), path: "spec.rules[0].rateLimit.fillInterval", msg: "must be at least 50ms (Envoy's shortest token-bucket refill), got 20ms"},
		{name: "rate limit fill interval at envoy's minimum", kind: KindRoute, spec: rule(b + "rateLimit: {maxTokens: 10, fillInterval: 50ms}")},
		{name: "rule after a rule without matches", kind: KindRoute, spec: "service: a\nrules:\n- name: all\n  backends: [{}]\n- name: admin\n  matches: [{path: {prefix: /admin}}]\n  backends: [{}]", path: "spec.rules[1]", msg: `is never reached: rule "all" before it matches every request`},
		{name: "rule after a prefix-slash match", kind: KindRoute, spec: "service: a\nrules:\n- matches: [{path: {exact: /x}}, {path: {prefix: /}}]\n  backends: [{}]\n- matches: [{method: GET}]\n  backends: [{}]", path: "spec.rules[1]", msg: "rule spec.rules[0] before it matches every request"},
		{name: "catch-all last is fine", kind: KindRoute, spec: "service: a\nrules:\n- matches: [{path: {prefix: /}, headers: [{name: x, exact: 'v1'}]}]\n  backends: [{}]\n- matches: [{path: {prefix: /}}]\n  backends: [{}]"},
		{name: "rate limit fill interval missing", kind: KindRoute, spec: rule(b + "rateLimit: {maxTokens: 10}"), path: "spec.rules[0].rateLimit.fillInterval", msg: "required"},
		{name: "rate limit no tokens", kind: KindRoute, spec: rule(b + "rateLimit: {fillInterval: 1s}"), path: "spec.rules[0].rateLimit.maxTokens", msg: "at least 1"},
		{name: "rate limit tokens per fill", kind: KindRoute, spec: rule(b + "rateLimit: {maxTokens: 1, tokensPerFill: 2, fillInterval: 1s}"), path: "spec.rules[0].rateLimit.tokensPerFill", msg: "must not exceed maxTokens 1"},
		{name: "rate limit status", kind: KindRoute, spec: rule(b + "rateLimit: {maxTokens: 1, fillInterval: 1s, status: 200}"), path: "spec.rules[0].rateLimit.status", msg: "4xx or 5xx"},
		{name: "rate limit status unknown to envoy", kind: KindRoute, spec: rule(b + "rateLimit: {maxTokens: 1, fillInterval: 1s, status: 499}"), path: "spec.rules[0].rateLimit.status", msg: "got 499"},
	})
}

func TestValidateTrafficPolicySurface(t *testing.T) {
	tp := func(s string) string { return "service: a\n" + s }
	runSpecCases(t, []specCase{
		{name: "full ok", kind: KindTrafficPolicy, spec: tp(`loadBalancer: {policy: RING_HASH, hashCookie: {name: sid, ttl: 1h}, ringHash: {minRingSize: 1024, maxRingSize: 4096}}
connectTimeout: 1s
connectionPool: {maxConnections: 100, maxPendingRequests: 10, maxRequests: 1000, maxRetries: 3, http2: true, tcpKeepalive: {time: 60s, interval: 10s, probes: 3}}
outlierDetection: {consecutive5xx: 5, consecutiveGatewayErrors: 3, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50}
locality: {weighted: true, failover: [{region: eu}, {region: us, zone: us-1}, {region: us}]}
healthCheck: {interval: 5s, timeout: 1s, http: {path: /healthz}}
rateLimit: {maxTokens: 100, fillInterval: 1s}`)},
		{name: "source ip ok", kind: KindTrafficPolicy, spec: tp("loadBalancer: {policy: MAGLEV, hashSourceIP: true}")},
		{name: "ring hash without key", kind: KindTrafficPolicy, spec: tp("loadBalancer: {policy: RING_HASH}"), path: "spec.loadBalancer", msg: "RING_HASH needs a hash key"},
		{name: "ring hash with two keys", kind: KindTrafficPolicy, spec: tp("loadBalancer: {policy: RING_HASH, hashHeader: x, hashSourceIP: true}"), path: "spec.loadBalancer", msg: "takes one hash key, got 2"},
		{name: "cookie without hashing", kind: KindTrafficPolicy, spec: tp("loadBalancer: {policy: LEAST_REQUEST, hashCookie: {name: a}}"), path: "spec.loadBalancer.hashCookie", msg: "only applies to RING_HASH and MAGLEV"},
		{name: "cookie name", kind: KindTrafficPolicy, spec: tp("loadBalancer: {policy: RING_HASH, hashCookie: {ttl: 1s}}"), path: "spec.loadBalancer.hashCookie.name", msg: "required"},
		{name: "cookie ttl", kind: KindTrafficPolicy, spec: tp("loadBalancer: {policy: RING_HASH, hashCookie: {name: a, ttl: -1s}}"), path: "spec.loadBalancer.hashCookie.ttl", msg: "must be > 0"},
		{name: "ring size on maglev", kind: KindTrafficPolicy, spec: tp("loadBalancer: {policy: MAGLEV, hashHeader: x, ringHash: {minRingSize: 1}}"), path: "spec.loadBalancer.ringHash", msg: "only applies to RING_HASH"},
		{name: "ring size inverted", kind: KindTrafficPolicy, spec: tp("loadBalancer: {policy: RING_HASH, hashHeader: x, ringHash: {minRingSize: 10, maxRingSize: 5}}"), path: "spec.loadBalancer.ringHash", msg: "minRingSize 10 exceeds maxRingSize 5"},
		{name: "ring size too big", kind: KindTrafficPolicy, spec: tp("loadBalancer: {policy: RING_HASH, hashHeader: x, ringHash: {maxRingSize: 9000000}}"), path: "spec.loadBalancer.ringHash.maxRingSize", msg: "at most 8388608"},
		{name: "keepalive fraction", kind: KindTrafficPolicy, spec: tp("connectionPool: {tcpKeepalive: {time: 1500ms}}"), path: "spec.connectionPool.tcpKeepalive.time", msg: "whole number of seconds"},
		{name: "keepalive zero", kind: KindTrafficPolicy, spec: tp("connectionPool: {tcpKeepalive: {interval: 0s}}"), path: "spec.connectionPool.tcpKeepalive.interval", msg: "must be > 0"},
		{name: "outlier max ejection", kind: KindTrafficPolicy, spec: tp("outlierDetection: {consecutive5xx: 5, maxEjectionPercent: 101}"), path: "spec.outlierDetection.maxEjectionPercent", msg: "from 0 to 100, got 101"},
		{name: "outlier without a threshold", kind: KindTrafficPolicy, spec: tp("outlierDetection: {interval: 10s}"), path: "spec.outlierDetection", msg: "set consecutive5xx, consecutiveGatewayErrors or both"},
		{name: "outlier gateway errors only", kind: KindTrafficPolicy, spec: tp("outlierDetection: {consecutiveGatewayErrors: 3}")},
		{name: "outlier interval", kind: KindTrafficPolicy, spec: tp("outlierDetection: {interval: 0s}"), path: "spec.outlierDetection.interval", msg: "must be > 0"},
		{name: "outlier ejection time", kind: KindTrafficPolicy, spec: tp("outlierDetection: {baseEjectionTime: -5s}"), path: "spec.outlierDetection.baseEjectionTime", msg: "must be > 0"},
		{name: "failover region", kind: KindTrafficPolicy, spec: tp("locality: {failover: [{zone: z}]}"), path: "spec.locality.failover[0].region", msg: "required"},
		{name: "failover duplicate", kind: KindTrafficPolicy, spec: tp("locality: {failover: [{region: eu}, {region: eu}]}"), path: "spec.locality.failover[1]", msg: `region "eu" appears twice`},
		{name: "health check kinds", kind: KindTrafficPolicy, spec: tp("healthCheck: {interval: 1s, timeout: 1s, tcp: {}, grpc: {}}"), path: "spec.healthCheck", msg: "exactly one of http, grpc or tcp"},
		{name: "health check none", kind: KindTrafficPolicy, spec: tp("healthCheck: {interval: 1s, timeout: 1s}"), path: "spec.healthCheck", msg: "exactly one of http, grpc or tcp"},
		{name: "health check interval", kind: KindTrafficPolicy, spec: tp("healthCheck: {timeout: 1s, tcp: {}}"), path: "spec.healthCheck.interval", msg: "required"},
		{name: "health check timeout zero", kind: KindTrafficPolicy, spec: tp("healthCheck: {interval: 1s, timeout: 0s, tcp: {}}"), path: "spec.healthCheck.timeout", msg: "must be > 0"},
		{name: "health check path", kind: KindTrafficPolicy, spec: tp("healthCheck: {interval: 1s, timeout: 1s, http: {path: healthz}}"), path: "spec.healthCheck.http.path", msg: "must start with '/'"},
		{name: "rate limit fill interval", kind: KindTrafficPolicy, spec: tp("rateLimit: {maxTokens: 1, fillInterval: 49ms}"), path: "spec.rateLimit.fillInterval", msg: "at least 50ms"},
	})
}
