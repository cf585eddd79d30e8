package translate

import (
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"

	"embassy.dev/embassy/pkg/resource"
)

// routeMatch builds a match; a match without a path matches every path.
// A gRPC match becomes the path gRPC requests carry: /<service>/<method>,
// or the prefix /<service>/ for every method.
func routeMatch(m resource.RouteMatch) *route.RouteMatch {
	out := &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}}
	switch {
	case m.GRPC != nil && m.GRPC.Method != "":
		out.PathSpecifier = &route.RouteMatch_Path{Path: "/" + m.GRPC.Service + "/" + m.GRPC.Method}
	case m.GRPC != nil:
		out.PathSpecifier = &route.RouteMatch_Prefix{Prefix: "/" + m.GRPC.Service + "/"}
	case m.Path != nil && m.Path.Exact != "":
		out.PathSpecifier = &route.RouteMatch_Path{Path: m.Path.Exact}
	case m.Path != nil && m.Path.Prefix != "":
		out.PathSpecifier = &route.RouteMatch_Prefix{Prefix: m.Path.Prefix}
	case m.Path != nil && m.Path.Regex != "":
		out.PathSpecifier = &route.RouteMatch_SafeRegex{SafeRegex: regexMatcher(m.Path.Regex)}
	}
	if m.Method != "" {
		out.Headers = append(out.Headers, &route.HeaderMatcher{
			Name:                 ":method",
			HeaderMatchSpecifier: &route.HeaderMatcher_StringMatch{StringMatch: exactString(m.Method)},
		})
	}
	for _, h := range m.Headers {
		out.Headers = append(out.Headers, headerMatcher(h))
	}
	for _, q := range m.QueryParams {
		out.QueryParameters = append(out.QueryParameters, queryParamMatcher(q))
	}
	return out
}

// headerMatcher matches a header's value, or its presence or absence.
// Absence is presence inverted, which Envoy and gRPC read alike.
func headerMatcher(h resource.HeaderMatch) *route.HeaderMatcher {
	out := &route.HeaderMatcher{Name: h.Name, InvertMatch: h.Invert}
	switch {
	case h.Exact != "":
		out.HeaderMatchSpecifier = &route.HeaderMatcher_StringMatch{StringMatch: exactString(h.Exact)}
	case h.Prefix != "":
		out.HeaderMatchSpecifier = &route.HeaderMatcher_StringMatch{StringMatch: &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Prefix{Prefix: h.Prefix}}}
	case h.Suffix != "":
		out.HeaderMatchSpecifier = &route.HeaderMatcher_StringMatch{StringMatch: &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Suffix{Suffix: h.Suffix}}}
	case h.Regex != "":
		out.HeaderMatchSpecifier = &route.HeaderMatcher_StringMatch{StringMatch: &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_SafeRegex{SafeRegex: regexMatcher(h.Regex)}}}
	case h.Absent:
		out.HeaderMatchSpecifier = &route.HeaderMatcher_PresentMatch{PresentMatch: true}
		out.InvertMatch = !h.Invert
	default:
		out.HeaderMatchSpecifier = &route.HeaderMatcher_PresentMatch{PresentMatch: true}
	}
	return out
}

// queryParamMatcher matches a query parameter's value or presence.
func queryParamMatcher(q resource.QueryParamMatch) *route.QueryParameterMatcher {
	out := &route.QueryParameterMatcher{Name: q.Name}
	switch {
	case q.Exact != "":
		out.QueryParameterMatchSpecifier = &route.QueryParameterMatcher_StringMatch{StringMatch: exactString(q.Exact)}
	case q.Regex != "":
		out.QueryParameterMatchSpecifier = &route.QueryParameterMatcher_StringMatch{StringMatch: &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_SafeRegex{SafeRegex: regexMatcher(q.Regex)}}}
	default:
		out.QueryParameterMatchSpecifier = &route.QueryParameterMatcher_PresentMatch{PresentMatch: true}
	}
	return out
}

// regexMatcher builds an RE2 matcher; leaving the engine unset selects
// Google RE2, the only engine Envoy and gRPC have.
func regexMatcher(re string) *matcher.RegexMatcher {
	return &matcher.RegexMatcher{Regex: re}
}

func exactString(s string) *matcher.StringMatcher {
	return &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: s}}
}

// usesQueryParams reports whether a match needs query parameters, which
// proxyless gRPC cannot see: it skips such routes.
func usesQueryParams(m resource.RouteMatch) bool { return len(m.QueryParams) > 0 }
