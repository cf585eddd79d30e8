package rbac

import (
	"regexp"
	"strings"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// MayAllow reports whether compiled rules can allow any request from a
// peer whose authenticated principal (its SPIFFE ID) is principal. It is
// the question config scoping asks: false only when every policy of the
// rules needs a peer that principal is not, so no request of that caller
// can ever pass; true whenever the answer depends on anything else of the
// request (path, headers, addresses), and for rules whose shape it does
// not know (a DENY action, CEL conditions), so it errs on the side of
// keeping a service reachable. It allocates nothing for the rules the
// compiler makes, since scoping asks it once per caller and service.
func MayAllow(r *rbacv3.RBAC, principal string) bool {
	if r == nil || r.GetAction() != rbacv3.RBAC_ALLOW {
		return true
	}
	for _, p := range r.GetPolicies() {
		if p.GetCondition() != nil || p.GetCheckedCondition() != nil {
			return true
		}
		if permissions(p.GetPermissions()).and(principals(p.GetPrincipals(), principal)) != never {
			return true
		}
	}
	return false
}

// tri is a three-valued truth: whether a matcher matches every request of
// the caller, none, or depends on what the caller sends.
type tri int

const (
	never tri = iota
	maybe
	always
)

func (a tri) and(b tri) tri { return min(a, b) }
func (a tri) not() tri      { return always - a }

func of(b bool) tri {
	if b {
		return always
	}
	return never
}

// permissions ORs permissions; only Any and the logic over it are known
// without the request.
func permissions(ps []*rbacv3.Permission) tri {
	out := never
	for _, p := range ps {
		out = max(out, permission(p))
	}
	return out
}

func permission(p *rbacv3.Permission) tri {
	switch r := p.GetRule().(type) {
	case *rbacv3.Permission_Any:
		return of(r.Any)
	case *rbacv3.Permission_AndRules:
		out := always
		for _, q := range r.AndRules.GetRules() {
			out = out.and(permission(q))
		}
		return out
	case *rbacv3.Permission_OrRules:
		return permissions(r.OrRules.GetRules())
	case *rbacv3.Permission_NotRule:
		return permission(r.NotRule).not()
	}
	return maybe
}

// principals ORs principal matchers for a caller authenticated as
// principal.
func principals(ps []*rbacv3.Principal, principal string) tri {
	out := never
	for _, p := range ps {
		out = max(out, principalOf(p, principal))
	}
	return out
}

func principalOf(p *rbacv3.Principal, principal string) tri {
	switch id := p.GetIdentifier().(type) {
	case *rbacv3.Principal_Any:
		return of(id.Any)
	case *rbacv3.Principal_Authenticated_:
		if id.Authenticated.GetPrincipalName() == nil {
			return always // any authenticated peer, as every mTLS caller is
		}
		return stringMatch(id.Authenticated.GetPrincipalName(), principal)
	case *rbacv3.Principal_AndIds:
		out := always
		for _, q := range id.AndIds.GetIds() {
			out = out.and(principalOf(q, principal))
		}
		return out
	case *rbacv3.Principal_OrIds:
		return principals(id.OrIds.GetIds(), principal)
	case *rbacv3.Principal_NotId:
		return principalOf(id.NotId, principal).not()
	}
	return maybe
}

// stringMatch applies an Envoy StringMatcher to s, as Envoy would;
// a pattern it cannot apply here is maybe.
func stringMatch(m *matcherv3.StringMatcher, s string) tri {
	if m.GetIgnoreCase() {
		return stringMatchFolded(m, strings.ToLower(s))
	}
	switch pat := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		return of(s == pat.Exact)
	case *matcherv3.StringMatcher_Prefix:
		return of(strings.HasPrefix(s, pat.Prefix))
	case *matcherv3.StringMatcher_Suffix:
		return of(strings.HasSuffix(s, pat.Suffix))
	case *matcherv3.StringMatcher_Contains:
		return of(strings.Contains(s, pat.Contains))
	case *matcherv3.StringMatcher_SafeRegex:
		// Envoy's safe_regex matches the whole value, in RE2 syntax.
		re, err := regexp.Compile(`^(?:` + pat.SafeRegex.GetRegex() + `)$`)
		if err != nil {
			return maybe
		}
		return of(re.MatchString(s))
	}
	return maybe
}

// stringMatchFolded is stringMatch with ignore_case, s already lower case.
func stringMatchFolded(m *matcherv3.StringMatcher, s string) tri {
	switch pat := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		return of(s == strings.ToLower(pat.Exact))
	case *matcherv3.StringMatcher_Prefix:
		return of(strings.HasPrefix(s, strings.ToLower(pat.Prefix)))
	case *matcherv3.StringMatcher_Suffix:
		return of(strings.HasSuffix(s, strings.ToLower(pat.Suffix)))
	case *matcherv3.StringMatcher_Contains:
		return of(strings.Contains(s, strings.ToLower(pat.Contains)))
	}
	return maybe
}

// AllowedPrincipals returns, when rules are of the shape the compiler
// makes of policies that only name callers (every policy's peers are
// exact principal names, and its request matchers may match), the set
// of principals MayAllow is true for, and true; else false. Scoping
// indexes callers by it rather than reading every service's rules for
// every caller.
func AllowedPrincipals(r *rbacv3.RBAC) ([]string, bool) {
	if r == nil || r.GetAction() != rbacv3.RBAC_ALLOW {
		return nil, false
	}
	var out []string
	for _, p := range r.GetPolicies() {
		if p.GetCondition() != nil || p.GetCheckedCondition() != nil {
			return nil, false
		}
		names, ok := exactPrincipals(p.GetPrincipals(), nil)
		if !ok {
			return nil, false
		}
		if permissions(p.GetPermissions()) != never {
			out = append(out, names...)
		}
	}
	return out, true
}

// exactPrincipals appends the names of peers that are each an exact,
// case-sensitive principal name (or an OR of them), or says false.
func exactPrincipals(ps []*rbacv3.Principal, out []string) ([]string, bool) {
	for _, p := range ps {
		switch id := p.GetIdentifier().(type) {
		case *rbacv3.Principal_Authenticated_:
			m := id.Authenticated.GetPrincipalName()
			exact, ok := m.GetMatchPattern().(*matcherv3.StringMatcher_Exact)
			if !ok || m.GetIgnoreCase() {
				return nil, false
			}
			out = append(out, exact.Exact)
		case *rbacv3.Principal_OrIds:
			var ok bool
			if out, ok = exactPrincipals(id.OrIds.GetIds(), out); !ok {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	return out, true
}
