package rbac

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"embassy.dev/embassy/pkg/re2size"
)

// side is the half of an RBAC policy a matcher can sit in.
type side int

const (
	sideEither side = iota
	sidePermission
	sidePrincipal
)

// cond is one condition of a query as RBAC matchers: perm is set when the
// condition can be a Permission, prin when it can be a Principal.
type cond struct {
	perm *rbacv3.Permission
	prin *rbacv3.Principal
}

// op is how an expression compares an attribute with a constant.
type op int

const (
	opEq       op = iota // ==
	opPrefix             // startswith
	opSuffix             // endswith
	opContains           // contains
	opRegex              // regex.match (unanchored, as OPA matches)
	opCIDR               // net.cidr_contains
)

// match builds the condition "f op c".
func match(f field, o op, c ast.Value) (cond, string, bool) {
	switch f.kind {
	case kindHeader, kindPrincipal, kindSNI:
		s, ok := c.(ast.String)
		if !ok || o == opCIDR {
			return cond{}, fmt.Sprintf("%s is a string, compared here with %s", f.ref, c), false
		}
		sm, why, ok := stringMatcher(o, string(s))
		if !ok {
			return cond{}, why, false
		}
		return stringCond(f, sm), "", true
	case kindSourceIP, kindDestIP:
		return ipCond(f, o, c)
	case kindDestPort:
		n, ok := c.(ast.Number)
		port, isInt := int64(0), false
		if ok {
			port, isInt = n.Int64()
		}
		if o != opEq || !isInt || port < 0 || port > math.MaxUint16 {
			return cond{}, fmt.Sprintf("%s is a port number, compared here with %s", f.ref, c), false
		}
		return cond{perm: &rbacv3.Permission{Rule: &rbacv3.Permission_DestinationPort{DestinationPort: uint32(port)}}}, "", true
	case kindParsedPath, kindPathSegment:
		re, why, ok := parsedPathRegex(f, o, c)
		if !ok {
			return cond{}, why, false
		}
		if why, ok := checkRegex(re); !ok {
			return cond{}, why, false
		}
		pm := &matcherv3.PathMatcher{Rule: &matcherv3.PathMatcher_Path{Path: regexMatcher(re)}}
		return cond{
			perm: &rbacv3.Permission{Rule: &rbacv3.Permission_UrlPath{UrlPath: pm}},
			prin: &rbacv3.Principal{Identifier: &rbacv3.Principal_UrlPath{UrlPath: pm}},
		}, "", true
	}
	return cond{}, fmt.Sprintf("%s has no RBAC matcher", f.ref), false
}

// stringMatcher is an Envoy StringMatcher for o with s. Envoy refuses an
// empty prefix, suffix or substring, so those (true of any value) become
// a regex that matches anything.
func stringMatcher(o op, s string) (*matcherv3.StringMatcher, string, bool) {
	if s == "" && (o == opPrefix || o == opSuffix || o == opContains) {
		return regexMatcher(`(?s).*`), "", true
	}
	switch o {
	case opEq:
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: s}}, "", true
	case opPrefix:
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: s}}, "", true
	case opSuffix:
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: s}}, "", true
	case opContains:
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Contains{Contains: s}}, "", true
	case opRegex:
		if _, err := regexp.Compile(s); err != nil {
			return nil, fmt.Sprintf("regex %q is not valid RE2: %v", s, err), false
		}
		// OPA's regex.match finds the pattern anywhere; Envoy's safe_regex
		// must match the whole value.
		full := `(?s:.*)(?:` + s + `)(?s:.*)`
		if why, ok := checkRegex(full); !ok {
			return nil, why, false
		}
		return regexMatcher(full), "", true
	}
	return nil, "unsupported comparison", false
}

func regexMatcher(re string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: re}}}
}

// checkRegex refuses a regex Envoy would refuse: invalid, or with an RE2
// program over Envoy's limit. Such a regex in the RBAC filter would get
// the whole node set refused before serving (xds/envoyrules), so the
// policy stays on ext_authz instead. Go's own program size is no measure
// of RE2's ([0-9a-f]{64} is 70 instructions to Go and 132 to RE2), so the
// size is re2size's upper bound of RE2's.
func checkRegex(re string) (string, bool) {
	n, err := re2size.Bound(re)
	if err != nil {
		return fmt.Sprintf("regex %q is not valid RE2: %v", re, err), false
	}
	if n > re2size.EnvoyLimit {
		return fmt.Sprintf("regex %q compiles to an RE2 program of up to %d instructions, over Envoy's limit of %d (re2.max_program_size.error_level)", re, n, re2size.EnvoyLimit), false
	}
	return "", true
}

// stringCond places a string matcher on f's attribute.
func stringCond(f field, sm *matcherv3.StringMatcher) cond {
	switch f.kind {
	case kindPrincipal:
		return cond{prin: &rbacv3.Principal{Identifier: &rbacv3.Principal_Authenticated_{
			Authenticated: &rbacv3.Principal_Authenticated{PrincipalName: sm},
		}}}
	case kindSNI:
		return cond{perm: &rbacv3.Permission{Rule: &rbacv3.Permission_RequestedServerName{RequestedServerName: sm}}}
	}
	return headerCond(&routev3.HeaderMatcher{
		Name:                 f.header,
		HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: sm},
	})
}

func headerCond(hm *routev3.HeaderMatcher) cond {
	return cond{
		perm: &rbacv3.Permission{Rule: &rbacv3.Permission_Header{Header: hm}},
		prin: &rbacv3.Principal{Identifier: &rbacv3.Principal_Header{Header: hm}},
	}
}

// presentCond holds when the header is sent at all.
func presentCond(f field) cond {
	return headerCond(&routev3.HeaderMatcher{
		Name:                 f.header,
		HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true},
	})
}

// ipCond matches an address against one IP (== compares strings, and
// Envoy reports addresses in canonical form, so only a canonical constant
// can ever be equal) or a CIDR range.
func ipCond(f field, o op, c ast.Value) (cond, string, bool) {
	s, ok := c.(ast.String)
	if !ok {
		return cond{}, fmt.Sprintf("%s is an address string, compared here with %s", f.ref, c), false
	}
	var prefix netip.Prefix
	switch o {
	case opEq:
		addr, err := netip.ParseAddr(string(s))
		if err != nil || addr.String() != string(s) || addr.Zone() != "" {
			return cond{}, fmt.Sprintf("%s is compared with %q, which is not an IP address in canonical form", f.ref, string(s)), false
		}
		prefix = netip.PrefixFrom(addr, addr.BitLen())
	case opCIDR:
		p, err := netip.ParsePrefix(string(s))
		if err != nil {
			return cond{}, fmt.Sprintf("%q is not a CIDR range: %v", string(s), err), false
		}
		prefix = p.Masked()
	default:
		return cond{}, fmt.Sprintf("%s can only be compared with == or net.cidr_contains", f.ref), false
	}
	cidr := &corev3.CidrRange{
		AddressPrefix: prefix.Addr().String(),
		PrefixLen:     wrapperspb.UInt32(uint32(prefix.Bits())),
	}
	if f.kind == kindDestIP {
		return cond{perm: &rbacv3.Permission{Rule: &rbacv3.Permission_DestinationIp{DestinationIp: cidr}}}, "", true
	}
	return cond{prin: &rbacv3.Principal{Identifier: &rbacv3.Principal_DirectRemoteIp{DirectRemoteIp: cidr}}}, "", true
}

// Regexes for the start of a path, as ext_authz's input builder parses it
// (url.Parse, then all leading slashes of the path trimmed): "/" then the
// remainder, or "//", a host, and the remainder after its slashes. Before
// a non-empty remainder the host must be followed by a slash, or the host
// would swallow the remainder.
const (
	pathStart      = `(?:/|//[^/]*/+)`
	pathStartEmpty = `(?:/|//[^/]*/*)`
)

// parsedPathRegex is the url_path regex that holds exactly when the
// input's parsed_path compares equal. parsed_path is the path without its
// query, all leading slashes trimmed, split on "/": so ["a", "b"] is
// /a/b, and parsed_path[1] == "b" is any path whose second segment is b,
// such as /a/b or /a/b/c. A path starting with "//" is a scheme-relative
// URL to url.Parse: its first segment is a host, not part of parsed_path,
// and the regexes follow that too.
func parsedPathRegex(f field, o op, c ast.Value) (string, string, bool) {
	if o != opEq {
		return "", fmt.Sprintf("%s can only be compared with ==", f.ref), false
	}
	segString := func(v ast.Value) (string, bool) {
		s, ok := v.(ast.String)
		if !ok || strings.Contains(string(s), "/") {
			return "", false
		}
		return string(s), true
	}
	if f.kind == kindPathSegment {
		s, ok := segString(c)
		if !ok {
			return "", fmt.Sprintf("%s is one path segment, compared here with %s", f.ref, c), false
		}
		if f.segment == 0 {
			if s == "" {
				return pathStartEmpty, "", true
			}
			return pathStart + regexp.QuoteMeta(s) + `(?:/.*)?`, "", true
		}
		// The first segment of a path with more than one is never empty:
		// all leading slashes were trimmed.
		skip := ""
		if f.segment > 1 {
			skip = fmt.Sprintf(`(?:[^/]*/){%d}`, f.segment-1)
		}
		return pathStart + `[^/]+/` + skip + regexp.QuoteMeta(s) + `(?:/.*)?`, "", true
	}
	arr, ok := c.(*ast.Array)
	if !ok || arr.Len() == 0 {
		return "", fmt.Sprintf("%s is a list of segments, compared here with %s", f.ref, c), false
	}
	segs := make([]string, arr.Len())
	for i := range segs {
		s, ok := segString(arr.Elem(i).Value)
		if !ok {
			return "", fmt.Sprintf("%s is a list of segments, compared here with %s", f.ref, c), false
		}
		segs[i] = regexp.QuoteMeta(s)
	}
	if segs[0] == "" && len(segs) > 1 {
		return "", fmt.Sprintf("%s never starts with an empty segment followed by others, so the comparison with %s never holds", f.ref, c), false
	}
	if len(segs) == 1 && segs[0] == "" {
		return pathStartEmpty, "", true
	}
	return pathStart + strings.Join(segs, "/"), "", true
}
