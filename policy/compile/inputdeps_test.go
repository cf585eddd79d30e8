package compile

import (
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

func TestInputDeps(t *testing.T) {
	cases := []struct {
		name, rego string
		fields     []string // nil: not cacheable
		reason     string
	}{
		{"path and method", `package envoy.authz
default allow := false
allow if {
	input.attributes.request.http.method == "GET"
	input.parsed_path[0] == "api"
}`, []string{"attributes.request.http.method", "parsed_path.0"}, ""},
		{"through an import, a variable and a function", `package envoy.authz
import input.attributes.request.http as h
default allow := false
ok(x) if x.path == "/a"
allow if {
	r := input.attributes.source
	r.principal == "spiffe://d/ns/a/sa/b"
	ok(h)
}`, []string{"attributes.request.http", "attributes.source"}, ""},
		{"a computed header key reads the whole headers object", `package envoy.authz
default allow := false
allow if {
	some k
	input.attributes.request.http.headers[k] == "x"
	input.attributes.request.http.headers["x-user"] == "bob"
}`, []string{"attributes.request.http.headers"}, ""},
		{"object.get with a computed key", `package envoy.authz
default allow := false
allow if object.get(input.attributes, data.k, "") == "x"`, []string{"attributes"}, ""},
		{"the clock", `package envoy.authz
default allow := false
allow if time.now_ns() > 0`, nil, "calls time.now_ns"},
		{"a token verified against now", `package envoy.authz
default allow := false
allow if {
	[ok, _, _] := io.jwt.decode_verify(input.attributes.request.http.headers.authorization, {"secret": "s"})
	ok
}`, nil, "calls io.jwt.decode_verify"},
		{"randomness", `package envoy.authz
default allow := false
allow if rand.intn("x", 10) == 1`, nil, "rand.intn"},
		{"walk over the whole input", `package envoy.authz
default allow := false
allow if {
	walk(input, [_, v])
	v == "admin"
}`, nil, "whole input"},
		{"a computed top-level key", `package envoy.authz
default allow := false
allow if {
	some k
	input[k] == "x"
}`, nil, "whole input"},
		{"input replaced with 'with'", `package envoy.authz
default allow := false
inner if input.a == 1
allow if inner with input as {"a": 1}`, nil, "whole input"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := Compile("default/p", spec("p.rego", c.rego))
			if err != nil {
				t.Fatal(err)
			}
			d := b.InputDeps()
			if c.fields == nil {
				if d.Cacheable || !strings.Contains(d.Reason, c.reason) || !strings.HasPrefix(d.Reason, "p.rego:") {
					t.Errorf("got cacheable %v reason %q, want not cacheable because %q, with a location", d.Cacheable, d.Reason, c.reason)
				}
				return
			}
			if !d.Cacheable || !slices.Equal(d.Fields, c.fields) {
				t.Errorf("got cacheable %v fields %q (%s), want %q", d.Cacheable, d.Fields, d.Reason, c.fields)
			}
		})
	}
}

func TestInputDepsKey(t *testing.T) {
	b, err := Compile("default/p", spec("p.rego", `package envoy.authz
default allow := false
allow if {
	input.attributes.request.http.method == "GET"
	input.attributes.request.http.headers["x-user"] == "bob"
}`))
	if err != nil {
		t.Fatal(err)
	}
	d := b.InputDeps()
	in := func(method, user, id string) map[string]any {
		h := map[string]any{"x-request-id": id}
		if user != "" {
			h["x-user"] = user
		}
		return map[string]any{"attributes": map[string]any{"request": map[string]any{"http": map[string]any{"method": method, "headers": h}}}}
	}
	key := func(input any) string {
		k, ok := d.Key(input)
		if !ok {
			t.Fatalf("no key for %v", input)
		}
		return k
	}
	base := key(in("GET", "bob", "1"))
	if key(in("GET", "bob", "2")) != base {
		t.Error("a field the policy never reads changed the key")
	}
	for _, other := range []map[string]any{in("POST", "bob", "1"), in("GET", "eve", "1"), in("GET", "", "1")} {
		if key(other) == base {
			t.Errorf("a field the policy reads did not change the key: %v", other)
		}
	}
	v, err := ast.InterfaceToValue(in("GET", "bob", "3"))
	if err != nil {
		t.Fatal(err)
	}
	if key(v) != base {
		t.Error("the same input as an OPA value has another key")
	}
}
