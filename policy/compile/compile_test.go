package compile

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/resource"
)

const allowGet = `package envoy.authz

default allow := false

allow if input.attributes.request.http.method == "GET"
`

func spec(mods ...string) *resource.AuthorizationPolicySpec {
	s := &resource.AuthorizationPolicySpec{}
	for i := 0; i+1 < len(mods); i += 2 {
		s.Modules = append(s.Modules, resource.RegoModule{Name: mods[i], Rego: mods[i+1]})
	}
	return s
}

func TestCompileDefaults(t *testing.T) {
	b, err := Compile("default/get-only", spec("authz.rego", allowGet))
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "default/get-only" || b.Query() != resource.DefaultQuery || b.Mode() != ModeEnforce ||
		b.FailureMode() != FailureDeny || b.RegoVersion() != RegoV1 || string(b.Data()) != "{}" {
		t.Errorf("defaults not filled: %+v", b.w)
	}
	if len(b.Revision()) != 16 {
		t.Errorf("revision %q", b.Revision())
	}
}

func TestCompileRefusesBadRegoWithLocation(t *testing.T) {
	cases := []struct {
		name string
		spec *resource.AuthorizationPolicySpec
		want []string
	}{
		{"parse error", spec("authz.rego", "package envoy.authz\n\nallow if {\n    input.x ==\n}\n"),
			[]string{"authz.rego:5:1: rego_parse_error: unexpected } token"}},
		{"v0 syntax under v1", spec("authz.rego", "package envoy.authz\n\nallow {\n  true\n}\n"),
			[]string{"authz.rego:3:", "rego_parse_error"}},
		{"every module reported", spec("a.rego", "package a\nx := ", "b.rego", "package b\ny if {"),
			[]string{"a.rego:", "b.rego:"}},
		{"unsafe var", spec("authz.rego", "package envoy.authz\n\nallow if x == 1\n"),
			[]string{"authz.rego:3:10: rego_unsafe_var_error: var x is unsafe"}},
		{"unknown function", spec("authz.rego", "package envoy.authz\n\nallow if nosuch(1)\n"),
			[]string{"authz.rego:3:10: rego_type_error: undefined function nosuch"}},
		{"query names no rule", &resource.AuthorizationPolicySpec{
			Modules: []resource.RegoModule{{Name: "authz.rego", Rego: "package envoy.authz\n\npermit := true\n"}}},
			[]string{"query: embassy_query_error: query data.envoy.authz.allow refers to no rule"}},
		{"query is not a reference", &resource.AuthorizationPolicySpec{
			Query: "1 + 1", Modules: []resource.RegoModule{{Name: "authz.rego", Rego: allowGet}}},
			[]string{"query: embassy_query_error"}},
		{"data not an object", &resource.AuthorizationPolicySpec{
			Data: json.RawMessage(`[1,2]`), Modules: []resource.RegoModule{{Name: "authz.rego", Rego: allowGet}}},
			[]string{"data: embassy_data_error: data must be a JSON object, got an array"}},
		{"data conflicts with a rule", &resource.AuthorizationPolicySpec{
			Data: json.RawMessage(`{"envoy":{"authz":{"allow":true}}}`), Modules: []resource.RegoModule{{Name: "authz.rego", Rego: allowGet}}},
			[]string{"rego_compile_error"}},
		{"bad mode", &resource.AuthorizationPolicySpec{
			Mode: "audit", Modules: []resource.RegoModule{{Name: "authz.rego", Rego: allowGet}}},
			[]string{`mode: embassy_spec_error: mode "audit" is not enforce or dry-run`}},
		{"no modules", &resource.AuthorizationPolicySpec{}, []string{"modules: embassy_spec_error"}},
		{"duplicate module", spec("a.rego", allowGet, "a.rego", allowGet), []string{"used twice"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := Compile("p", c.spec)
			if b != nil {
				t.Fatal("a bundle was returned with an error")
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %v (%T) is not Errors", err, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, e := range errs {
				if e.Code == "" || e.Message == "" {
					t.Errorf("incomplete error %+v", e)
				}
			}
		})
	}
}

func TestCompileParseErrorFields(t *testing.T) {
	_, err := Compile("p", spec("authz.rego", "package envoy.authz\n\nallow if {\n    input.x ==\n}\n"))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatal(err)
	}
	e := errs[0]
	want := Error{File: "authz.rego", Row: 5, Col: 1, Code: "rego_parse_error", Message: "unexpected } token"}
	if *e != want {
		t.Errorf("got %+v, want %+v", *e, want)
	}
	if got := e.Error(); got != "authz.rego:5:1: rego_parse_error: unexpected } token" {
		t.Errorf("Error() = %q", got)
	}
}

func TestCompileV0(t *testing.T) {
	s := spec("authz.rego", "package envoy.authz\n\ndefault allow = false\n\nallow {\n  input.attributes.request.http.method == \"GET\"\n}\n")
	if _, err := Compile("p", s); err == nil {
		t.Fatal("v0 syntax compiled as v1")
	}
	s.RegoVersion = RegoV0
	b, err := Compile("p", s)
	if err != nil {
		t.Fatal(err)
	}
	if b.RegoVersion() != RegoV0 {
		t.Errorf("rego version %q", b.RegoVersion())
	}
}

func TestRevisionFollowsContent(t *testing.T) {
	base := func() *resource.AuthorizationPolicySpec {
		s := spec("authz.rego", "package envoy.authz\n\ndefault allow := false\n\nallow if data.ok\n")
		s.Data = json.RawMessage(`{"ok": true, "b": [1, 2.50]}`)
		return s
	}
	rev := func(s *resource.AuthorizationPolicySpec, name string) string {
		b, err := Compile(name, s)
		if err != nil {
			t.Fatal(err)
		}
		return b.Revision()
	}
	r0 := rev(base(), "a")
	if r := rev(base(), "other-name"); r != r0 {
		t.Errorf("the name changed the revision")
	}
	reordered := base()
	reordered.Data = json.RawMessage(`{ "b":[1,2.50],"ok":true }`)
	if r := rev(reordered, "a"); r != r0 {
		t.Errorf("key order changed the revision")
	}
	changes := map[string]func(*resource.AuthorizationPolicySpec){
		"data":        func(s *resource.AuthorizationPolicySpec) { s.Data = json.RawMessage(`{"ok": false}`) },
		"module":      func(s *resource.AuthorizationPolicySpec) { s.Modules[0].Rego += "\n" },
		"mode":        func(s *resource.AuthorizationPolicySpec) { s.Mode = ModeDryRun },
		"failureMode": func(s *resource.AuthorizationPolicySpec) { s.FailureMode = FailureAllow },
		"query":       func(s *resource.AuthorizationPolicySpec) { s.Query = "data.envoy.authz" },
	}
	for name, change := range changes {
		s := base()
		change(s)
		if r := rev(s, "a"); r == r0 {
			t.Errorf("changing %s kept revision %s", name, r)
		}
	}
}

func TestBundleJSONRoundTrip(t *testing.T) {
	s := spec("authz.rego", allowGet)
	s.Data = json.RawMessage(`{"roles":{"admin":["GET"]}}`)
	s.Mode = ModeDryRun
	b, err := Compile("shop/reviews", s)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var got Bundle
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.Revision() != b.Revision() || got.Name() != b.Name() || got.Mode() != ModeDryRun ||
		string(got.Data()) != string(b.Data()) || len(got.Modules()) != 1 {
		t.Errorf("round trip lost content: %s", raw)
	}
	if _, err := got.Prepare(); err != nil {
		t.Fatal(err)
	}

	tampered := strings.Replace(string(raw), `\"GET\"`, `\"POST\"`, 1)
	if tampered == string(raw) {
		t.Fatal("test did not tamper")
	}
	if err := json.Unmarshal([]byte(tampered), &got); err == nil || !strings.Contains(err.Error(), "hashes to revision") {
		t.Errorf("tampered bundle accepted: %v", err)
	}
}

func TestBundleAccessorsCopy(t *testing.T) {
	b, err := Compile("p", spec("authz.rego", allowGet))
	if err != nil {
		t.Fatal(err)
	}
	b.Modules()[0].Rego = "changed"
	b.Data()[0] = 'x'
	if b.Modules()[0].Rego != allowGet || string(b.Data()) != "{}" {
		t.Error("accessors exposed the bundle's content")
	}
}
