package rbac

import (
	"fmt"
	"sort"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// Explain says, for `embassyctl policy explain`, whether the policy runs
// as RBAC and what the rules are, or which rule and expression keep it on
// ext_authz and why.
func Explain(r *Result) string {
	if r == nil {
		return "not compiled"
	}
	if !r.Compiled {
		var b strings.Builder
		b.WriteString("enforced by ext_authz (not compiled to RBAC)\n")
		if r.Location != "" {
			fmt.Fprintf(&b, "  at %s\n", r.Location)
		}
		fmt.Fprintf(&b, "  %s\n", r.Reason)
		return b.String()
	}
	names := make([]string, 0, len(r.RBAC.GetPolicies()))
	for name := range r.RBAC.GetPolicies() {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	switch len(names) {
	case 0:
		b.WriteString("compiled to RBAC: no rule can match, every request is denied\n")
		return b.String()
	case 1:
		b.WriteString("compiled to RBAC: a request is allowed when this policy matches, else denied\n")
	default:
		fmt.Fprintf(&b, "compiled to RBAC: a request is allowed when any of these %d policies matches, else denied\n", len(names))
	}
	for _, name := range names {
		pol := r.RBAC.GetPolicies()[name]
		fmt.Fprintf(&b, "  %s\n", name)
		fmt.Fprintf(&b, "    request: %s\n", describePermissions(pol.GetPermissions()))
		fmt.Fprintf(&b, "    peer:    %s\n", describePrincipals(pol.GetPrincipals()))
	}
	return b.String()
}

func describePermissions(ps []*rbacv3.Permission) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = describePermission(p)
	}
	return strings.Join(parts, " or ")
}

func describePrincipals(ps []*rbacv3.Principal) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = describePrincipal(p)
	}
	return strings.Join(parts, " or ")
}

func describePermission(p *rbacv3.Permission) string {
	switch r := p.GetRule().(type) {
	case *rbacv3.Permission_Any:
		return "any"
	case *rbacv3.Permission_AndRules:
		return joinDescribed(r.AndRules.GetRules(), describePermission, " and ")
	case *rbacv3.Permission_OrRules:
		return "(" + joinDescribed(r.OrRules.GetRules(), describePermission, " or ") + ")"
	case *rbacv3.Permission_NotRule:
		return "not " + describePermission(r.NotRule)
	case *rbacv3.Permission_Header:
		return describeHeader(r.Header)
	case *rbacv3.Permission_UrlPath:
		return "path (no query) " + describeString(r.UrlPath.GetPath())
	case *rbacv3.Permission_DestinationIp:
		return "destination ip in " + describeCIDR(r.DestinationIp)
	case *rbacv3.Permission_DestinationPort:
		return fmt.Sprintf("destination port %d", r.DestinationPort)
	case *rbacv3.Permission_RequestedServerName:
		return "sni " + describeString(r.RequestedServerName)
	}
	return fmt.Sprintf("%T", p.GetRule())
}

func describePrincipal(p *rbacv3.Principal) string {
	switch id := p.GetIdentifier().(type) {
	case *rbacv3.Principal_Any:
		return "any"
	case *rbacv3.Principal_AndIds:
		return joinDescribed(id.AndIds.GetIds(), describePrincipal, " and ")
	case *rbacv3.Principal_OrIds:
		return "(" + joinDescribed(id.OrIds.GetIds(), describePrincipal, " or ") + ")"
	case *rbacv3.Principal_NotId:
		return "not " + describePrincipal(id.NotId)
	case *rbacv3.Principal_Authenticated_:
		return "principal " + describeString(id.Authenticated.GetPrincipalName())
	case *rbacv3.Principal_DirectRemoteIp:
		return "source ip in " + describeCIDR(id.DirectRemoteIp)
	case *rbacv3.Principal_Header:
		return describeHeader(id.Header)
	case *rbacv3.Principal_UrlPath:
		return "path (no query) " + describeString(id.UrlPath.GetPath())
	}
	return fmt.Sprintf("%T", p.GetIdentifier())
}

func joinDescribed[T any](xs []T, describe func(T) string, sep string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = describe(x)
	}
	return strings.Join(parts, sep)
}

func describeHeader(h *routev3.HeaderMatcher) string {
	if h.GetPresentMatch() {
		return fmt.Sprintf("header %s present", h.GetName())
	}
	return fmt.Sprintf("header %s %s", h.GetName(), describeString(h.GetStringMatch()))
}

func describeString(m *matcherv3.StringMatcher) string {
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		return fmt.Sprintf("== %q", p.Exact)
	case *matcherv3.StringMatcher_Prefix:
		return fmt.Sprintf("starts with %q", p.Prefix)
	case *matcherv3.StringMatcher_Suffix:
		return fmt.Sprintf("ends with %q", p.Suffix)
	case *matcherv3.StringMatcher_Contains:
		return fmt.Sprintf("contains %q", p.Contains)
	case *matcherv3.StringMatcher_SafeRegex:
		return fmt.Sprintf("matches regex %q", p.SafeRegex.GetRegex())
	}
	return "?"
}

func describeCIDR(c *corev3.CidrRange) string {
	return fmt.Sprintf("%s/%d", c.GetAddressPrefix(), c.GetPrefixLen().GetValue())
}
