package rbac

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// allows evaluates rules the way Envoy's RBAC filter (and gRPC's, for the
// matchers both have) does, for exactly the matcher kinds Compile emits,
// against the request a CheckRequest describes. It panics on any other
// kind so a new emitted matcher cannot be silently misjudged.
func allows(rules *rbacv3.RBAC, req *authv3.CheckRequest) bool {
	if rules.GetAction() != rbacv3.RBAC_ALLOW {
		panic("only ALLOW is emitted")
	}
	for _, p := range rules.GetPolicies() {
		if anyPermissionMatches(p.GetPermissions(), req) && anyPrincipalMatches(p.GetPrincipals(), req) {
			return true
		}
	}
	return false
}

func anyPermissionMatches(ps []*rbacv3.Permission, req *authv3.CheckRequest) bool {
	for _, p := range ps {
		if permissionMatches(p, req) {
			return true
		}
	}
	return false
}

func anyPrincipalMatches(ps []*rbacv3.Principal, req *authv3.CheckRequest) bool {
	for _, p := range ps {
		if principalMatches(p, req) {
			return true
		}
	}
	return false
}

func permissionMatches(p *rbacv3.Permission, req *authv3.CheckRequest) bool {
	dst := req.GetAttributes().GetDestination().GetAddress().GetSocketAddress()
	switch r := p.GetRule().(type) {
	case *rbacv3.Permission_Any:
		return r.Any
	case *rbacv3.Permission_AndRules:
		for _, x := range r.AndRules.GetRules() {
			if !permissionMatches(x, req) {
				return false
			}
		}
		return true
	case *rbacv3.Permission_OrRules:
		return anyPermissionMatches(r.OrRules.GetRules(), req)
	case *rbacv3.Permission_NotRule:
		return !permissionMatches(r.NotRule, req)
	case *rbacv3.Permission_Header:
		return headerMatches(r.Header, req)
	case *rbacv3.Permission_UrlPath:
		return stringMatches(r.UrlPath.GetPath(), urlPath(req))
	case *rbacv3.Permission_DestinationIp:
		return cidrContains(r.DestinationIp, dst.GetAddress())
	case *rbacv3.Permission_DestinationPort:
		return dst.GetPortValue() == r.DestinationPort
	case *rbacv3.Permission_RequestedServerName:
		return stringMatches(r.RequestedServerName, req.GetAttributes().GetTlsSession().GetSni())
	}
	panic("unexpected permission kind")
}

func principalMatches(p *rbacv3.Principal, req *authv3.CheckRequest) bool {
	src := req.GetAttributes().GetSource()
	switch id := p.GetIdentifier().(type) {
	case *rbacv3.Principal_Any:
		return id.Any
	case *rbacv3.Principal_AndIds:
		for _, x := range id.AndIds.GetIds() {
			if !principalMatches(x, req) {
				return false
			}
		}
		return true
	case *rbacv3.Principal_OrIds:
		return anyPrincipalMatches(id.OrIds.GetIds(), req)
	case *rbacv3.Principal_NotId:
		return !principalMatches(id.NotId, req)
	case *rbacv3.Principal_Authenticated_:
		// No peer certificate: ext_authz sends no principal and RBAC's
		// authenticated matcher never matches.
		if src.GetPrincipal() == "" {
			return false
		}
		return stringMatches(id.Authenticated.GetPrincipalName(), src.GetPrincipal())
	case *rbacv3.Principal_DirectRemoteIp:
		return cidrContains(id.DirectRemoteIp, src.GetAddress().GetSocketAddress().GetAddress())
	case *rbacv3.Principal_Header:
		return headerMatches(id.Header, req)
	case *rbacv3.Principal_UrlPath:
		return stringMatches(id.UrlPath.GetPath(), urlPath(req))
	}
	panic("unexpected principal kind")
}

// headerValue is what Envoy's header matchers see: pseudo-headers from
// the request line, other headers by their lower-case name.
func headerValue(name string, req *authv3.CheckRequest) (string, bool) {
	h := req.GetAttributes().GetRequest().GetHttp()
	switch name {
	case ":method":
		return h.GetMethod(), true
	case ":path":
		return h.GetPath(), true
	case ":authority":
		return h.GetHost(), true
	}
	v, ok := h.GetHeaders()[name]
	return v, ok
}

func headerMatches(m *routev3.HeaderMatcher, req *authv3.CheckRequest) bool {
	v, ok := headerValue(m.GetName(), req)
	switch s := m.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_PresentMatch:
		return ok == s.PresentMatch
	case *routev3.HeaderMatcher_StringMatch:
		return ok && stringMatches(s.StringMatch, v)
	}
	panic("unexpected header matcher kind")
}

// urlPath is the path without query or fragment, as url_path matches it.
func urlPath(req *authv3.CheckRequest) string {
	p := req.GetAttributes().GetRequest().GetHttp().GetPath()
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	return p
}

func stringMatches(m *matcherv3.StringMatcher, v string) bool {
	if m.GetIgnoreCase() {
		panic("ignore_case is never emitted")
	}
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		return v == p.Exact
	case *matcherv3.StringMatcher_Prefix:
		return strings.HasPrefix(v, p.Prefix)
	case *matcherv3.StringMatcher_Suffix:
		return strings.HasSuffix(v, p.Suffix)
	case *matcherv3.StringMatcher_Contains:
		return strings.Contains(v, p.Contains)
	case *matcherv3.StringMatcher_SafeRegex:
		// RE2 full match, as Envoy and gRPC apply safe_regex.
		return regexp.MustCompile(`^(?:` + p.SafeRegex.GetRegex() + `)$`).MatchString(v)
	}
	panic("unexpected string matcher kind")
}

func cidrContains(c *corev3.CidrRange, addr string) bool {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	prefix, err := netip.ParsePrefix(c.GetAddressPrefix() + "/" + strconv.FormatUint(uint64(c.GetPrefixLen().GetValue()), 10))
	if err != nil {
		panic(err)
	}
	return prefix.Masked().Contains(ip)
}
