package resource

import (
	"regexp"
	"strings"

	"embassy.dev/embassy/pkg/re2size"
)

// HTTPMethods are the methods a match may name.
var HTTPMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

// grpcServicePattern is a fully qualified protobuf service name
// ("package.Service"); grpcMethodPattern is a method name.
var (
	grpcServicePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
	grpcMethodPattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// routeMatch checks a match's path, headers, query parameters, method and
// gRPC service.
func (v *validator) routeMatch(path string, m RouteMatch) {
	if p := m.Path; p != nil {
		v.pathMatch(path+".path", p)
	}
	for i, h := range m.Headers {
		v.headerMatch(index(path+".headers", i), h)
	}
	for i, q := range m.QueryParams {
		v.queryParamMatch(index(path+".queryParams", i), q)
	}
	v.oneOf(path+".method", m.Method, false, HTTPMethods...)
	if g := m.GRPC; g != nil {
		if m.Path != nil {
			v.errorf(path+".grpc", "cannot be combined with path: a gRPC match sets the path /<service>/<method>")
		}
		switch {
		case g.Service == "":
			v.errorf(path+".grpc.service", "required")
		case !grpcServicePattern.MatchString(g.Service):
			v.errorf(path+".grpc.service", "must be a fully qualified protobuf service name such as helloworld.Greeter, got %q", g.Service)
		}
		if g.Method != "" && !grpcMethodPattern.MatchString(g.Method) {
			v.errorf(path+".grpc.method", "must be a protobuf method name such as SayHello, got %q", g.Method)
		}
	}
}

// pathMatch checks that exactly one way of matching the path is set.
func (v *validator) pathMatch(path string, p *PathMatch) {
	if count(p.Exact != "", p.Prefix != "", p.Regex != "") != 1 {
		v.errorf(path, "set exactly one of exact, prefix or regex")
		return
	}
	switch {
	case p.Regex != "":
		v.regex(path+".regex", p.Regex)
	case !strings.HasPrefix(p.Exact+p.Prefix, "/"):
		field := "exact"
		if p.Prefix != "" {
			field = "prefix"
		}
		v.errorf(path+"."+field, "must start with '/', got %q", p.Exact+p.Prefix)
	}
}

// headerMatch checks one header condition.
func (v *validator) headerMatch(path string, h HeaderMatch) {
	if h.Name == "" {
		v.errorf(path+".name", "required")
	} else if !headerNamePattern.MatchString(h.Name) {
		v.errorf(path+".name", "must be an HTTP header name, got %q", h.Name)
	}
	if count(h.Exact != "", h.Prefix != "", h.Suffix != "", h.Regex != "", h.Present, h.Absent) != 1 {
		v.errorf(path, "set exactly one of exact, prefix, suffix, regex, present or absent")
		return
	}
	if h.Regex != "" {
		v.regex(path+".regex", h.Regex)
	}
}

// queryParamMatch checks one query parameter condition.
func (v *validator) queryParamMatch(path string, q QueryParamMatch) {
	if q.Name == "" {
		v.errorf(path+".name", "required")
	}
	if count(q.Exact != "", q.Regex != "", q.Present) != 1 {
		v.errorf(path, "set exactly one of exact, regex or present")
		return
	}
	if q.Regex != "" {
		v.regex(path+".regex", q.Regex)
	}
}

// regex checks that s compiles as RE2, the syntax both Envoy and gRPC use
// (Go's regexp is RE2), and that Envoy will load it: Envoy refuses a
// regex whose RE2 program is larger than re2.max_program_size.error_level
// (source/common/common/regex.cc, "RE2 program size of N > max program
// size of 100"), which would NACK the route configuration of every
// sidecar. re2size bounds that size from above.
func (v *validator) regex(path, s string) {
	if _, err := regexp.Compile(s); err != nil {
		v.errorf(path, "must be an RE2 regular expression: %v", err)
		return
	}
	if n, err := re2size.Bound(s); err == nil && n > re2size.EnvoyLimit {
		v.errorf(path, "compiles to an RE2 program of up to %d instructions, over Envoy's limit of %d (re2.max_program_size.error_level); use shorter repetitions ([0-9a-f]+ rather than [0-9a-f]{64}) or a prefix or exact match", n, re2size.EnvoyLimit)
	}
}

// count returns how many of the conditions hold.
func count(conds ...bool) int {
	n := 0
	for _, c := range conds {
		if c {
			n++
		}
	}
	return n
}
