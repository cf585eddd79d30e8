package rbac

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"embassy.dev/embassy/pkg/resource"
)

var update = flag.Bool("update", false, "rewrite testdata/<case>.json from the compiler's output")

func compileCase(t *testing.T, c policyCase) *Result {
	t.Helper()
	r, err := Compile([]resource.RegoModule{{Name: "policy.rego", Rego: c.rego}}, c.dataJSON(), c.query, "")
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	return r
}

func TestCompileTable(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := compileCase(t, c)
			if r.Compiled != c.compiled {
				t.Fatalf("Compiled = %v, want %v; reason: %s", r.Compiled, c.compiled, r.Reason)
			}
			if !c.compiled {
				if r.RBAC != nil {
					t.Errorf("RBAC set on a policy that did not compile")
				}
				if r.Location != c.wantLocation {
					t.Errorf("Location = %q, want %q (reason: %s)", r.Location, c.wantLocation, r.Reason)
				}
				if !strings.Contains(r.Reason, c.wantReason) || !strings.Contains(r.Reason, "rule data.envoy.authz.allow (policy.rego:") {
					t.Errorf("Reason = %q, want the rule and %q", r.Reason, c.wantReason)
				}
				if ex := Explain(r); !strings.Contains(ex, "ext_authz") || !strings.Contains(ex, r.Location) || !strings.Contains(ex, r.Reason) {
					t.Errorf("Explain = %q, want the location and reason", ex)
				}
				return
			}
			golden := filepath.Join("testdata", c.name+".json")
			if *update {
				if err := os.WriteFile(golden, []byte(protojson.Format(r.RBAC)+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			raw, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			want := &rbacv3.RBAC{}
			if err := protojson.Unmarshal(raw, want); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(r.RBAC, want) {
				t.Errorf("RBAC differs from %s:\n%s", golden, protojson.Format(r.RBAC))
			}
			if ex := Explain(r); !strings.HasPrefix(ex, "compiled to RBAC") {
				t.Errorf("Explain = %q", ex)
			}
		})
	}
}

// TestFiltersValidate wraps every compiled RBAC in the HTTP filter and
// validates it the way Envoy would, into every Any.
func TestFiltersValidate(t *testing.T) {
	for _, c := range cases {
		if !c.compiled {
			continue
		}
		r := compileCase(t, c)
		f, err := HTTPFilter(r.RBAC)
		if err != nil {
			t.Fatal(err)
		}
		if f.GetName() != "envoy.filters.http.rbac" || f.GetTypedConfig().GetTypeUrl() != "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC" {
			t.Errorf("%s: filter %s with %s", c.name, f.GetName(), f.GetTypedConfig().GetTypeUrl())
		}
		if n := validateDeep(t, f); n < 2 {
			t.Errorf("%s: validated %d messages, want the filter and its typed config", c.name, n)
		}
	}
}

// validateDeep calls ValidateAll on m and on every message packed in an
// Any below it, and returns how many messages it validated.
func validateDeep(t *testing.T, m proto.Message) int {
	t.Helper()
	n := 0
	if v, ok := m.(interface{ ValidateAll() error }); ok {
		n++
		if err := v.ValidateAll(); err != nil {
			t.Errorf("%T: %v", m, err)
		}
	}
	var walk func(protoreflect.Message)
	walk = func(msg protoreflect.Message) {
		if a, ok := msg.Interface().(*anypb.Any); ok {
			inner, err := a.UnmarshalNew()
			if err != nil {
				t.Errorf("unpack %s: %v", a.GetTypeUrl(), err)
				return
			}
			n += validateDeep(t, inner)
			return
		}
		msg.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList() && fd.Message() != nil:
				for i := 0; i < v.List().Len(); i++ {
					walk(v.List().Get(i).Message())
				}
			case fd.IsMap() && fd.MapValue().Message() != nil:
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					walk(mv.Message())
					return true
				})
			case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
				walk(v.Message())
			}
			return true
		})
	}
	walk(m.ProtoReflect())
	return n
}

func TestCompileRefusesInvalidPolicies(t *testing.T) {
	mods := func(src string) []resource.RegoModule { return []resource.RegoModule{{Name: "p.rego", Rego: src}} }
	ok := "package envoy.authz\n\nallow if input.attributes.request.http.method == \"GET\"\n"
	for name, call := range map[string]func() (*Result, error){
		"parse error": func() (*Result, error) { return Compile(mods("package envoy.authz\n\nallow if {"), nil, "", "") },
		"compile error": func() (*Result, error) {
			return Compile(mods("package envoy.authz\n\nallow if undefined_thing\n"), nil, "", "")
		},
		"data":       func() (*Result, error) { return Compile(mods(ok), []byte(`[1]`), "", "") },
		"query":      func() (*Result, error) { return Compile(mods(ok), nil, "x := 1", "") },
		"version":    func() (*Result, error) { return Compile(mods(ok), nil, "", "v2") },
		"no modules": func() (*Result, error) { return Compile(nil, nil, "", "") },
	} {
		if r, err := call(); err == nil {
			t.Errorf("%s: got %+v, want an error", name, r)
		}
	}
}

// TestCompileShapes covers the shapes outside the main table: v0 syntax,
// a custom query, and the reasons for what stays on ext_authz.
func TestCompileShapes(t *testing.T) {
	for _, tc := range []struct {
		name, rego, query, version string
		wantCompiled               bool
		wantLocation, wantReason   string
	}{
		{
			name: "v0 syntax", version: "v0", wantCompiled: true,
			rego: "package envoy.authz\n\ndefault allow = false\n\nallow { input.attributes.request.http.method == \"GET\" }\n",
		},
		{
			name: "custom query", query: "data.svc.permit", wantCompiled: true,
			rego: "package svc\n\npermit if input.attributes.destination.address.socketAddress.address == \"10.0.0.7\"\n",
		},
		{
			name: "upper-case header", wantLocation: "p.rego:3:10", wantReason: "not lower case",
			rego: "package envoy.authz\n\nallow if input.attributes.request.http.headers[\"X-Foo\"] == \"1\"\n",
		},
		{
			name: "header looked up by a variable key", wantLocation: "p.rego:3:20", wantReason: "only known per request",
			rego: "package envoy.authz\n\nallow if { some k; input.attributes.request.http.headers[k] == \"x\" }\n",
		},
		{
			name: "source port", wantLocation: "p.rego:3:10", wantReason: "not an attribute RBAC can match",
			rego: "package envoy.authz\n\nallow if input.attributes.source.address.socketAddress.portValue == 5\n",
		},
		{
			name: "non-canonical address", wantLocation: "p.rego:3:10", wantReason: "canonical form",
			rego: "package envoy.authz\n\nallow if input.attributes.source.address.socketAddress.address == \"2001:DB8::1\"\n",
		},
		{
			name: "rule yielding false", wantLocation: "p.rego:5:1", wantReason: "yields false",
			rego: "package envoy.authz\n\nallow if input.attributes.request.http.method == \"GET\"\n\nallow := false if input.attributes.request.http.headers[\"x-no\"]\n",
		},
		{
			name: "partial set", wantLocation: "p.rego:3:1", wantReason: "a set or a function",
			rego: "package envoy.authz\n\nallow contains \"x\" if input.attributes.request.http.method == \"GET\"\n",
		},
		{
			name: "else branch", wantLocation: "p.rego:3:1", wantReason: "else",
			rego: "package envoy.authz\n\nallow if input.attributes.request.http.method == \"GET\" else := true if input.attributes.request.http.method == \"HEAD\"\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Compile([]resource.RegoModule{{Name: "p.rego", Rego: tc.rego}}, nil, tc.query, tc.version)
			if err != nil {
				t.Fatal(err)
			}
			if r.Compiled != tc.wantCompiled {
				t.Fatalf("Compiled = %v, want %v: %s", r.Compiled, tc.wantCompiled, r.Reason)
			}
			if tc.wantCompiled {
				if len(r.RBAC.GetPolicies()) != 1 {
					t.Errorf("%d policies, want 1", len(r.RBAC.GetPolicies()))
				}
				return
			}
			if r.Location != tc.wantLocation || !strings.Contains(r.Reason, tc.wantReason) {
				t.Errorf("got %s: %s; want %s and %q", r.Location, r.Reason, tc.wantLocation, tc.wantReason)
			}
		})
	}
}

// TestSupportRules translates rules partial evaluation kept aside, as it
// does for "not" over a rule with several bodies, and refuses one that
// mixes permission-only and principal-only attributes.
func TestSupportRules(t *testing.T) {
	support := ast.MustParseModule(`package partial

mixed if {
	input.attributes.source.principal = "spiffe://a"
	input.attributes.destination.address.socketAddress.portValue = 9
}

peers if input.attributes.source.principal = "spiffe://a"

peers if startswith(input.attributes.request.http.path, "/internal/")
`)
	tr := newTranslator([]*ast.Module{support})
	c, _, why, ok := tr.translateExpr(ast.MustParseExpr("not data.partial.peers"), 0)
	if !ok {
		t.Fatalf("peers: %s", why)
	}
	if c.perm != nil || c.prin == nil {
		t.Fatalf("peers: got %+v, want a principal only", c)
	}
	want := `{"notId":{"orIds":{"ids":[{"authenticated":{"principalName":{"exact":"spiffe://a"}}},` +
		`{"header":{"name":":path","stringMatch":{"prefix":"/internal/"}}}]}}}`
	if got, _ := protojson.Marshal(c.prin); !jsonEqual(t, got, want) {
		t.Errorf("peers: got %s, want %s", got, want)
	}
	_, blame, why, ok := tr.translateExpr(ast.MustParseExpr("not data.partial.mixed"), 0)
	if ok || blame == nil || why != mixedSidesWhy {
		t.Errorf("mixed: ok=%v blame=%v why=%q", ok, blame, why)
	}
	if _, _, why, ok := tr.translateExpr(ast.MustParseExpr("data.partial.unknown"), 0); ok || !strings.Contains(why, "cannot see") {
		t.Errorf("unknown support rule: ok=%v why=%q", ok, why)
	}
}

func jsonEqual(t *testing.T, got []byte, want string) bool {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &b); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(a, b)
}
