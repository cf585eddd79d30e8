package whatif_test

import (
	"net/url"
	"regexp"
	"regexp/syntax"
	"strings"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"

	"embassy.dev/embassy/pkg/whatif"
)

// envoyRequest is a request as Envoy's router matches it: the path
// without its query, the query's parameters, and lower-case headers with
// :method.
type envoyRequest struct {
	path    string
	query   url.Values
	headers map[string]string
}

func newRequest(q whatif.Query) envoyRequest {
	path, raw, _ := strings.Cut(q.Path, "?")
	query, _ := url.ParseQuery(raw)
	h := map[string]string{":method": q.Method, ":path": q.Path}
	for k, v := range q.Headers {
		h[strings.ToLower(k)] = v
	}
	return envoyRequest{path: path, query: query, headers: h}
}

// routeOf reads a virtual host as Envoy's router does: the first route
// whose match takes the request decides. It returns the clusters a
// forwarding route sends to, and nothing for a route that answers itself
// or when no route matches.
func routeOf(vh *route.VirtualHost, r envoyRequest) []split {
	for _, rt := range vh.GetRoutes() {
		if !r.matches(rt.GetMatch()) {
			continue
		}
		a := rt.GetRoute()
		if c := a.GetCluster(); c != "" {
			return []split{{Cluster: c}}
		}
		var out []split
		for _, wc := range a.GetWeightedClusters().GetClusters() {
			out = append(out, split{Cluster: wc.GetName(), Weight: wc.GetWeight().GetValue()})
		}
		return out
	}
	return nil
}

func (r envoyRequest) matches(m *route.RouteMatch) bool {
	switch p := m.GetPathSpecifier().(type) {
	case *route.RouteMatch_Prefix:
		if !strings.HasPrefix(r.path, p.Prefix) {
			return false
		}
	case *route.RouteMatch_Path:
		if r.path != p.Path {
			return false
		}
	case *route.RouteMatch_SafeRegex:
		if !fullMatch(p.SafeRegex.GetRegex(), r.path) {
			return false
		}
	default:
		return false
	}
	for _, h := range m.GetHeaders() {
		if !r.header(h) {
			return false
		}
	}
	for _, q := range m.GetQueryParameters() {
		vs, ok := r.query[q.GetName()]
		if !ok || q.GetStringMatch() != nil && !stringMatch(q.GetStringMatch(), vs[0]) {
			return false
		}
	}
	return true
}

// header is Envoy's HeaderMatcher: a missing header takes only an
// inverted presence match.
func (r envoyRequest) header(h *route.HeaderMatcher) bool {
	v, ok := r.headers[strings.ToLower(h.GetName())]
	if !ok {
		_, presence := h.GetHeaderMatchSpecifier().(*route.HeaderMatcher_PresentMatch)
		return presence && h.GetPresentMatch() == h.GetInvertMatch()
	}
	match := true
	if sm := h.GetStringMatch(); sm != nil {
		match = stringMatch(sm, v)
	} else if _, presence := h.GetHeaderMatchSpecifier().(*route.HeaderMatcher_PresentMatch); presence {
		match = h.GetPresentMatch()
	}
	return match != h.GetInvertMatch()
}

func stringMatch(m *matcher.StringMatcher, v string) bool {
	switch p := m.GetMatchPattern().(type) {
	case *matcher.StringMatcher_Exact:
		return v == p.Exact
	case *matcher.StringMatcher_Prefix:
		return strings.HasPrefix(v, p.Prefix)
	case *matcher.StringMatcher_Suffix:
		return strings.HasSuffix(v, p.Suffix)
	case *matcher.StringMatcher_Contains:
		return strings.Contains(v, p.Contains)
	case *matcher.StringMatcher_SafeRegex:
		return fullMatch(p.SafeRegex.GetRegex(), v)
	}
	return false
}

// fullMatch is safe_regex: RE2 matching the whole string.
func fullMatch(re, s string) bool {
	rx, err := regexp.Compile("^(?:" + re + ")$")
	return err == nil && rx.MatchString(s)
}

// sampleOf is a string the RE2 expression matches whole: the shortest
// walk of its syntax tree (first alternative, fewest repeats, lowest
// character of a class).
func sampleOf(re string) string {
	t, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return ""
	}
	var b strings.Builder
	sample(&b, t.Simplify())
	return b.String()
}

func sample(b *strings.Builder, t *syntax.Regexp) {
	switch t.Op {
	case syntax.OpLiteral:
		b.WriteString(string(t.Rune))
	case syntax.OpCharClass:
		if len(t.Rune) > 0 {
			b.WriteRune(t.Rune[0])
		}
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteByte('a')
	case syntax.OpCapture, syntax.OpPlus:
		sample(b, t.Sub[0])
	case syntax.OpRepeat:
		for range t.Min {
			sample(b, t.Sub[0])
		}
	case syntax.OpConcat:
		for _, s := range t.Sub {
			sample(b, s)
		}
	case syntax.OpAlternate:
		sample(b, t.Sub[0])
	}
}
