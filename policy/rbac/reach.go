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
// keeping a service reachable.
func MayAllow(r *rbacv3.RBAC, principal string) bool {
	if r == nil || r.GetAction() != rbacv3.RBAC_ALLOW {
		return true
	}
	verdict := never
	for _, p := range r.GetPolicies() {
		if p.GetCondition() != nil || p.GetCheckedCondition() != nil {
			return true
		}
		verdict = verdict.or(anyOf(p.GetPermissions(), permission).and(anyOf(p.GetPrincipals(), func(pr *rbacv3.Principal) tri { return principalOf(pr, principal) })))
	}
	return verdict != never
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
func (a tri) or(b tri) tri  { return max(a, b) }
func (a tri) not() tri      { return always - a }

func of(b bool) tri {
	if b {
		return always
	}
	return never
}

func anyOf[T any](xs []T, f func(T) tri) tri {
	out := never
	for _, x := range xs {
		out = out.or(f(x))
	}
	return out
}

func allOf[T any](xs []T, f func(T) tri) tri {
	out := always
	for _, x := range xs {
		out = out.and(f(x))
	}
	return out
}

// permission is what a permission says of the caller's requests: only
// Any and the logic over it are known without the request.
func permission(p *rbacv3.Permission) tri {
	switch r := p.GetRule().(type) {
	case *rbacv3.Permission_Any:
		return of(r.Any)
	case *rbacv3.Permission_AndRules:
		return allOf(r.AndRules.GetRules(), permission)
	case *rbacv3.Permission_OrRules:
		return anyOf(r.OrRules.GetRules(), permission)
	case *rbacv3.Permission_NotRule:
		return permission(r.NotRule).not()
	}
	return maybe
}

// principalOf is what a principal matcher says of a caller authenticated
// as principal.
func principalOf(p *rbacv3.Principal, principal string) tri {
	f := func(p *rbacv3.Principal) tri { return principalOf(p, principal) }
	switch id := p.GetIdentifier().(type) {
	case *rbacv3.Principal_Any:
		return of(id.Any)
	case *rbacv3.Principal_Authenticated_:
		if id.Authenticated.GetPrincipalName() == nil {
			return always // any authenticated peer, as every mTLS caller is
		}
		return stringMatch(id.Authenticated.GetPrincipalName(), principal)
	case *rbacv3.Principal_AndIds:
		return allOf(id.AndIds.GetIds(), f)
	case *rbacv3.Principal_OrIds:
		return anyOf(id.OrIds.GetIds(), f)
	case *rbacv3.Principal_NotId:
		return f(id.NotId).not()
	}
	return maybe
}

// stringMatch applies an Envoy StringMatcher to s, as Envoy would;
// a pattern it cannot apply here is maybe.
func stringMatch(m *matcherv3.StringMatcher, s string) tri {
	fold := func(x string) string {
		if m.GetIgnoreCase() {
			return strings.ToLower(x)
		}
		return x
	}
	switch pat := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		return of(fold(s) == fold(pat.Exact))
	case *matcherv3.StringMatcher_Prefix:
		return of(strings.HasPrefix(fold(s), fold(pat.Prefix)))
	case *matcherv3.StringMatcher_Suffix:
		return of(strings.HasSuffix(fold(s), fold(pat.Suffix)))
	case *matcherv3.StringMatcher_Contains:
		return of(strings.Contains(fold(s), fold(pat.Contains)))
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
