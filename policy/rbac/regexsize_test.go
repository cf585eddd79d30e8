package rbac

import (
	"fmt"
	"strings"
	"testing"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"

	"embassy.dev/embassy/pkg/re2size"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/xds/validate"
)

// TestRegexOverEnvoysLimitStaysOnExtAuthz: a regex RE2 would compile to a
// program over Envoy's limit must not reach the RBAC filter, where it
// would get the node's whole set refused before serving. Go's program
// size passes both regexes below (70 and 39 instructions), so a check on
// it compiles them.
func TestRegexOverEnvoysLimitStaysOnExtAuthz(t *testing.T) {
	for _, tc := range []struct {
		name, expr, regex, location string
	}{
		{
			name:     "regex.match on the path",
			expr:     `regex.match("[0-9a-f]{64}", input.attributes.request.http.path)`,
			regex:    `(?s:.*)(?:[0-9a-f]{64})(?s:.*)`,
			location: "p.rego:3:10",
		},
		{
			name:     "a deep parsed_path segment",
			expr:     `input.parsed_path[8] == "x"`,
			regex:    pathStart + `[^/]+/(?:[^/]*/){7}x(?:/.*)?`,
			location: "p.rego:3:10",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Compile([]resource.RegoModule{{Name: "p.rego", Rego: "package envoy.authz\n\nallow if " + tc.expr + "\n"}}, nil, "", "")
			if err != nil {
				t.Fatal(err)
			}
			size, err := re2size.Bound(tc.regex)
			if err != nil || size <= re2size.EnvoyLimit {
				t.Fatalf("the case's regex bound is %d (%v), want one over %d", size, err, re2size.EnvoyLimit)
			}
			if r.Compiled {
				t.Fatalf("compiled to RBAC with a regex of RE2 size %d:\n%v", size, r.RBAC)
			}
			for _, want := range []string{fmt.Sprintf("%q", tc.regex), fmt.Sprintf("up to %d instructions", size), fmt.Sprintf("limit of %d", re2size.EnvoyLimit)} {
				if !strings.Contains(r.Reason, want) {
					t.Errorf("reason %q does not say %s", r.Reason, want)
				}
			}
			if r.Location != tc.location {
				t.Errorf("location %q, want %q", r.Location, tc.location)
			}
		})
	}
}

// TestCompiledRegexesAreWithinEnvoysLimit: every regex of every compiled
// policy of the table, and of a segment just within the limit, is one
// Envoy loads.
func TestCompiledRegexesAreWithinEnvoysLimit(t *testing.T) {
	results := map[string]*Result{}
	for _, c := range cases {
		if c.compiled {
			results[c.name] = compileCase(t, c)
		}
	}
	r, err := Compile([]resource.RegoModule{{Name: "p.rego", Rego: "package envoy.authz\n\nallow if input.parsed_path[5] == \"x\"\n"}}, nil, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Compiled {
		t.Fatalf("parsed_path[5] did not compile: %s", r.Reason)
	}
	results["parsed_path[5]"] = r
	seen := 0
	for name, r := range results {
		for _, re := range regexes(r.RBAC) {
			seen++
			if n, err := re2size.Bound(re); err != nil || n > re2size.EnvoyLimit {
				t.Errorf("%s: regex %q has RE2 size up to %d (%v), over %d", name, re, n, err, re2size.EnvoyLimit)
			}
		}
	}
	if seen < 3 {
		t.Errorf("only %d regexes checked", seen)
	}
}

// regexes lists every safe_regex in rules.
func regexes(rules *rbacv3.RBAC) []string {
	var out []string
	validate.Walk("RBAC", rules, func(_ string, m proto.Message) {
		if r, ok := m.(*matcherv3.RegexMatcher); ok {
			out = append(out, r.GetRegex())
		}
	})
	return out
}
