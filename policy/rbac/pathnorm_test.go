package rbac

import (
	"fmt"
	"strings"
	"testing"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"

	"embassy.dev/embassy/policy/extauthz"
	"embassy.dev/embassy/xds/validate"
)

// pathCases are policies made of each kind of path rule the compiler
// emits: :path exact, prefix, suffix, contains and regex matchers, and
// url_path regexes for parsed_path, allowing and (through not) denying.
// The table's own compiled policies with path rules join them.
var pathCases = []policyCase{
	{name: "prefix-allow", rego: "package envoy.authz\n\nallow if startswith(input.attributes.request.http.path, \"/public/\")\n"},
	{name: "prefix-deny", rego: "package envoy.authz\n\nallow if not startswith(input.attributes.request.http.path, \"/admin\")\n"},
	{name: "exact-in", rego: "package envoy.authz\n\nallow if input.attributes.request.http.path in {\"/api/orders\", \"/health\"}\n"},
	{name: "suffix", rego: "package envoy.authz\n\nallow if endswith(input.attributes.request.http.path, \".css\")\n"},
	{name: "contains-deny", rego: "package envoy.authz\n\nallow if not contains(input.attributes.request.http.path, \"/internal/\")\n"},
	{name: "regex", rego: "package envoy.authz\n\nallow if regex.match(\"^/v[0-9]+/users$\", input.attributes.request.http.path)\n"},
	{name: "segment-allow", rego: "package envoy.authz\n\nallow if input.parsed_path[0] == \"public\"\n"},
	{name: "segment-deny", rego: "package envoy.authz\n\nallow if not input.parsed_path[0] == \"admin\"\n"},
	{name: "parsed-path", rego: "package envoy.authz\n\nallow if input.parsed_path == [\"api\", \"orders\"]\n"},
}

// hostilePaths are the ways a path can be written to mean another: each
// base (what a rule may see first) walked back to each target with dot
// segments in every spelling Envoy resolves, and each target with extra
// slashes, dot segments, escaped dots and other unreserved characters,
// and escaped slashes (which Envoy refuses).
func hostilePaths() []string {
	bases := []string{"/public", "/public/css", "/api", "/api/items", "/v1", "/health"}
	targets := []string{"/admin", "/admin/users", "/api/orders", "/internal/metrics", "/health", "/public/site.css", "/v2/users"}
	var out []string
	for _, t := range targets {
		out = append(out, "/"+t, "//"+t, "/."+t, t+"/x/..", t+"/x/%2e%2e", strings.Replace(t, "/", "//", 2),
			"/%61"+t[2:], t+"/x/..?next=/../admin", "/x/..;y"+t)
		if strings.Contains(t, ".") {
			out = append(out, strings.ReplaceAll(t, ".", "%2e"))
		}
		for _, b := range bases {
			k := strings.Count(b, "/")
			for _, up := range []string{"/..", "/%2e%2e", "/.%2E", "/..;x"} {
				out = append(out, b+strings.Repeat(up, k)+t)
			}
			out = append(out, strings.ReplaceAll(b+strings.Repeat("/..", k)+t, "/", `\`),
				b+"/%2F.."+t, b+"%5c.."+t)
		}
	}
	return out
}

// TestNormalizedPaths is the proof that Envoy's path normalization, as
// every Embassy sidecar is configured (xds/translate pathnorm.go), makes
// RBAC and the policy decide on the same path. For each policy and each
// hostile path, with Envoy's normalization modelled from its source
// (extauthz.NormalizePath):
//
//   - a path Envoy refuses reaches no filter; the agent refuses it too if
//     it arrives anyway;
//   - otherwise the RBAC compiled from the policy decides on the
//     normalized path exactly as the policy does through the Check
//     server over gRPC, and the agent refuses the raw path;
//   - for each policy, and for each of its path matchers, some hostile
//     path is decided differently raw than normalized: without
//     normalization, RBAC would have judged a path other than the one the
//     application acts on.
func TestNormalizedPaths(t *testing.T) {
	policies := append([]policyCase(nil), pathCases...)
	for _, c := range cases {
		if c.compiled && len(pathMatchers(compileCase(t, c).RBAC)) > 0 {
			policies = append(policies, c)
		}
	}
	if len(policies) < len(pathCases)+3 {
		t.Fatalf("only %d policies with path rules", len(policies))
	}
	hostile := hostilePaths()
	for _, c := range policies {
		t.Run(c.name, func(t *testing.T) {
			r := compileCase(t, c)
			if !r.Compiled {
				t.Fatalf("did not compile: %s", r.Reason)
			}
			client, _ := checkServer(t, c)
			matchers := pathMatchers(r.RBAC)
			matterFor := make([]string, len(matchers))
			decidedDifferently, refused := "", 0
			for _, h := range hostile {
				raw := request{path: h, principal: frontend}.checkRequest()
				if checkAllows(t, client, raw) {
					t.Errorf("the agent allowed %q, which no Embassy sidecar sends", h)
				}
				n, ok := extauthz.NormalizePath(h)
				if !ok {
					refused++
					continue
				}
				if n == h {
					t.Fatalf("hostile path %q is already normal", h)
				}
				norm := request{path: n, principal: frontend}.checkRequest()
				byRBAC, byPolicy := allows(r.RBAC, norm), checkAllows(t, client, norm)
				if byRBAC != byPolicy {
					t.Errorf("%q, normalized to %q: RBAC allows=%v, the policy allows=%v", h, n, byRBAC, byPolicy)
				}
				if allows(r.RBAC, raw) != byRBAC && decidedDifferently == "" {
					decidedDifferently = fmt.Sprintf("%q (%q)", h, n)
				}
				for i, m := range matchers {
					if m.matches(h) != m.matches(n) && matterFor[i] == "" {
						matterFor[i] = h
					}
				}
			}
			if decidedDifferently == "" {
				t.Errorf("no hostile path is decided differently raw and normalized")
			}
			for i, h := range matterFor {
				if h == "" {
					t.Errorf("path matcher %v sees no hostile path differently raw and normalized", matchers[i])
				}
			}
			if refused == 0 {
				t.Errorf("no hostile path was one Envoy refuses")
			}
			t.Logf("%d hostile paths, %d refused by Envoy; decided differently raw, e.g. %s", len(hostile), refused, decidedDifferently)
		})
	}
}

// pathMatcher is one string matcher RBAC applies to the path: on the
// :path header (query included) or on url_path (without it).
type pathMatcher struct {
	m       *matcherv3.StringMatcher
	urlPath bool
}

func (p pathMatcher) matches(path string) bool {
	if p.urlPath {
		path, _, _ = strings.Cut(path, "?")
	}
	return stringMatches(p.m, path)
}

func (p pathMatcher) String() string {
	if p.urlPath {
		return "url_path " + p.m.String()
	}
	return ":path " + p.m.String()
}

// pathMatchers lists the path matchers anywhere in rules.
func pathMatchers(rules *rbacv3.RBAC) []pathMatcher {
	var out []pathMatcher
	validate.Walk("RBAC", rules, func(_ string, m proto.Message) {
		switch x := m.(type) {
		case *routev3.HeaderMatcher:
			if x.GetName() == ":path" && x.GetStringMatch() != nil {
				out = append(out, pathMatcher{m: x.GetStringMatch()})
			}
		case *matcherv3.PathMatcher:
			out = append(out, pathMatcher{m: x.GetPath(), urlPath: true})
		}
	})
	return out
}
