package extauthz

import "strings"

// NormalizePath returns the :path an Envoy HTTP connection manager with
// Embassy's settings (normalize_path, merge_slashes,
// path_with_escaped_slashes_action REJECT_REQUEST; xds/translate) hands its
// HTTP filters for a request sent with path, or false when Envoy answers
// the request 400 itself. It follows Envoy's
// ConnectionManagerUtility::maybeNormalizePath
// (source/common/http/conn_manager_utility.cc) and PathUtil
// (source/common/http/path_utility.cc), in their order:
//
//  1. a fragment ('#') is refused (runtime http_reject_path_with_fragment,
//     on by default);
//  2. %2F, %2f, %5C or %5c before the query is refused (unescapeSlashes
//     finds one, and the action is REJECT_REQUEST);
//  3. the path before the query is canonicalized: parameters are dropped
//     from "..;x" and ".;x" segments (strip_dotdot_segments_with_parameters),
//     then googleurl's CanonicalizePath resolves dot segments (also written
//     %2e), turns '\' into '/', decodes percent-encoded unreserved
//     characters, escapes characters a path may not hold, and refuses a NUL;
//  4. runs of slashes before the query become one.
//
// The query is never changed.
func NormalizePath(path string) (string, bool) {
	if strings.Contains(path, "#") {
		return "", false
	}
	p, query, _ := strings.Cut(path, "?")
	if hasQuery := len(p) < len(path); hasQuery {
		query = "?" + query
	}
	lower := strings.ToLower(p)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
		return "", false
	}
	p, ok := canonicalizePath(stripDotSegmentParameters(p))
	if !ok {
		return "", false
	}
	return mergeSlashes(p) + query, true
}

// stripDotSegmentParameters turns "..;x" into ".." and ".;x" into ".", so
// that "/a/..;x/admin" resolves to "/admin", as servers such as Tomcat
// read it (PathUtil::stripParametersFromDotSegments).
func stripDotSegmentParameters(p string) string {
	if !strings.Contains(p, ".;") {
		return p
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		switch {
		case strings.HasPrefix(s, "..;"):
			segs[i] = ".."
		case strings.HasPrefix(s, ".;"):
			segs[i] = "."
		}
	}
	return strings.Join(segs, "/")
}

// mergeSlashes is PathUtil::mergeSlashes on a path without its query.
func mergeSlashes(p string) string {
	if !strings.Contains(p, "//") {
		return p
	}
	var b strings.Builder
	if strings.HasPrefix(p, "/") {
		b.WriteByte('/')
	}
	first := true
	for _, s := range strings.Split(p, "/") {
		if s == "" {
			continue
		}
		if !first {
			b.WriteByte('/')
		}
		b.WriteString(s)
		first = false
	}
	if strings.HasSuffix(p, "/") {
		b.WriteByte('/')
	}
	return b.String()
}
