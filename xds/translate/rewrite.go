package translate

import (
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// rewrite changes a forwarded request's path (prefix_rewrite or
// regex_rewrite) and authority (host_rewrite_literal). gRPC does not
// rewrite, so proxyless clients get a Diagnostic instead.
func (t *translator) rewrite(action *route.RouteAction, r *mesh.Route, i int, rule resource.RouteRule) {
	rw := rule.Rewrite
	if rw == nil {
		return
	}
	if t.flavour == Proxyless {
		t.diag(resource.KindRoute, r.Namespace, r.Name, "rule %s: rewrite is not supported by proxyless gRPC; it applies to Envoy sidecars only", ruleLabel(i, rule))
		return
	}
	action.PrefixRewrite = rw.Prefix
	if x := rw.Regex; x != nil {
		action.RegexRewrite = &matcher.RegexMatchAndSubstitute{Pattern: regexMatcher(x.Pattern), Substitution: x.Substitution}
	}
	if rw.Host != "" {
		action.HostRewriteSpecifier = &route.RouteAction_HostRewriteLiteral{HostRewriteLiteral: rw.Host}
	}
}

// redirectCodes maps redirect statuses to Envoy's names; 301 is the
// default (the enum's zero).
var redirectCodes = map[uint32]route.RedirectAction_RedirectResponseCode{
	301: route.RedirectAction_MOVED_PERMANENTLY,
	302: route.RedirectAction_FOUND,
	303: route.RedirectAction_SEE_OTHER,
	307: route.RedirectAction_TEMPORARY_REDIRECT,
	308: route.RedirectAction_PERMANENT_REDIRECT,
}

// redirectAction builds a redirect; parts left out keep the request's.
func redirectAction(rd *resource.Redirect) *route.RedirectAction {
	out := &route.RedirectAction{HostRedirect: rd.Host, PortRedirect: rd.Port, ResponseCode: redirectCodes[rd.ResponseCode]}
	if rd.Scheme != "" {
		out.SchemeRewriteSpecifier = &route.RedirectAction_SchemeRedirect{SchemeRedirect: rd.Scheme}
	}
	if rd.Path != "" {
		out.PathRewriteSpecifier = &route.RedirectAction_PathRedirect{PathRedirect: rd.Path}
	}
	return out
}

// directResponseAction answers with a status and an inline body.
func directResponseAction(d *resource.DirectResponse) *route.DirectResponseAction {
	out := &route.DirectResponseAction{Status: d.Status}
	if d.Body != "" {
		out.Body = &core.DataSource{Specifier: &core.DataSource_InlineString{InlineString: d.Body}}
	}
	return out
}
