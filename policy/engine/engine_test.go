package engine

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"embassy.dev/embassy/internal/bundletest"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
)

// bundle compiles one module of package envoy.authz.
func bundle(t testing.TB, rego string, edit ...func(*resource.AuthorizationPolicySpec)) *compile.Bundle {
	t.Helper()
	return bundletest.Compile(t, "default/test", "package envoy.authz\n\n"+rego, edit...)
}

func loadedEngine(t testing.TB, b *compile.Bundle) *Engine {
	t.Helper()
	e := New()
	if err := e.Load(b); err != nil {
		t.Fatal(err)
	}
	return e
}

func dryRun(s *resource.AuthorizationPolicySpec)       { s.Mode = compile.ModeDryRun }
func failureAllow(s *resource.AuthorizationPolicySpec) { s.FailureMode = compile.FailureAllow }

func get(path string) map[string]any {
	return map[string]any{"attributes": map[string]any{"request": map[string]any{"http": map[string]any{
		"method": "GET", "path": path,
	}}}}
}

func TestDecideObjectResult(t *testing.T) {
	e := loadedEngine(t, bundle(t, `
default allow := false

allow if input.attributes.request.http.path == "/ok"

result := {
	"allowed": allow,
	"headers": {"x-user": "alice", "x-groups": ["a", "b"]},
	"response_headers_to_add": [{"x-served-by": "embassy"}],
	"request_headers_to_remove": ["authorization"],
	"query_parameters_to_remove": ["token"],
	"query_parameters_to_set": {"v": 2},
	"body": "go away",
	"status_code": 401,
	"dynamic_metadata": {"user": "alice", "n": 1},
	"reason": "custom",
}
`, func(s *resource.AuthorizationPolicySpec) { s.Query = "data.envoy.authz.result" }))

	d, err := e.Decide(context.Background(), get("/ok"))
	if err != nil {
		t.Fatal(err)
	}
	want := Decision{
		Policy: "default/test", Revision: e.Revision(), Allowed: true, Reason: "custom",
		Headers:                 []Header{{"x-groups", "a"}, {"x-groups", "b"}, {"x-user", "alice"}},
		ResponseHeadersToAdd:    []Header{{"x-served-by", "embassy"}},
		RequestHeadersToRemove:  []string{"authorization"},
		QueryParametersToRemove: []string{"token"},
		QueryParametersToSet:    []Header{{"v", "2"}},
		Body:                    "go away",
		DynamicMetadata:         map[string]any{"user": "alice", "n": json.Number("1")},
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("got  %+v\nwant %+v", d, want)
	}

	d, err = e.Decide(context.Background(), get("/no"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || d.HTTPStatus != 401 || d.Outcome() != OutcomeDeny || d.Permitted() {
		t.Errorf("deny: %+v", d)
	}
}

func TestDecideStatus(t *testing.T) {
	cases := map[string]int{
		`result := {"allowed": false}`:                                 403,
		`result := {"allowed": false, "http_status": 429}`:             429,
		`result := {"allowed": false, "status_code": 302}`:             302,
		`result := {"allowed": false, "http_status": 418}`:             -1,
		`result := {"allowed": false, "http_status": "403"}`:           -1,
		`result := {"allowed": false, "http_status": 4.5}`:             -1,
		`result := {"allowed": true, "http_status": 999}`:              0,
		`result := {"allowed": false, "http_status": 401, "body": 1}`:  -1,
		`result := {"allowed": false, "headers": {"a": {"b": "c"}}}`:   -1,
		`result := {"allowed": false, "dynamic_metadata": [1]}`:        -1,
		`result := {"allowed": "yes"}`:                                 -1,
		`result := {"headers": {}}`:                                    -1,
		`result := "allow"`:                                            -1,
		`result := {"allowed": false, "request_headers_to_remove": 1}`: -1,
	}
	for rego, want := range cases {
		t.Run(rego, func(t *testing.T) {
			e := loadedEngine(t, bundle(t, rego, func(s *resource.AuthorizationPolicySpec) { s.Query = "data.envoy.authz.result" }))
			d, err := e.Decide(context.Background(), get("/"))
			if want == -1 {
				if err == nil || !d.Failed || d.Allowed || d.HTTPStatus != 403 || d.Headers != nil {
					t.Errorf("malformed result not failed closed: %+v, %v", d, err)
				}
				return
			}
			if err != nil || d.HTTPStatus != want {
				t.Errorf("status %d, want %d (%v)", d.HTTPStatus, want, err)
			}
		})
	}
}

func TestDecideFailsClosed(t *testing.T) {
	cases := []struct {
		name, rego, reason string
	}{
		{"undefined", `allow if input.nothing`, "data.envoy.authz.allow is undefined"},
		{"builtin error", `allow if to_number(input.attributes.request.http.path) > 0`,
			`data.envoy.authz.allow is undefined; builtin errors: authz.rego:3: eval_builtin_error: to_number: strconv.ParseFloat: parsing "/x": invalid syntax`},
		{"conflict", "allow := true if input.attributes\nallow := false if input.attributes.request",
			"authz.rego:4: eval_conflict_error: rule data.envoy.authz.allow produced conflicting values"},
		{"object key conflict", "allow := x if {\n\tx := {\"a\": v | some v in [true, false]}\n}",
			"eval_conflict_error: object keys must be unique"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := loadedEngine(t, bundle(t, c.rego)).Decide(context.Background(), get("/x"))
			if err == nil || !d.Failed || d.Allowed || d.Permitted() || d.Outcome() != OutcomeError || d.HTTPStatus != 403 {
				t.Fatalf("not failed closed: %+v, %v", d, err)
			}
			if !strings.Contains(d.Reason, c.reason) || d.Reason != err.Error() {
				t.Errorf("reason %q, error %v, want %q", d.Reason, err, c.reason)
			}

			d, err = loadedEngine(t, bundle(t, c.rego, failureAllow)).Decide(context.Background(), get("/x"))
			if err == nil || !d.Failed || !d.Allowed || !d.Permitted() || d.Outcome() != OutcomeError {
				t.Fatalf("failure mode allow: %+v, %v", d, err)
			}
			if !strings.HasSuffix(d.Reason, "(failure mode allow)") {
				t.Errorf("reason %q", d.Reason)
			}
		})
	}
}

func TestDecideDryRun(t *testing.T) {
	e := loadedEngine(t, bundle(t, "default allow := false\n\nallow if input.attributes.request.http.path == \"/ok\"", dryRun))
	d, err := e.Decide(context.Background(), get("/no"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || !d.DryRun || !d.Permitted() || d.Outcome() != OutcomeWouldDeny {
		t.Errorf("dry-run deny: %+v", d)
	}
	d, _ = e.Decide(context.Background(), get("/ok"))
	if !d.Allowed || d.Outcome() != OutcomeAllow {
		t.Errorf("dry-run allow: %+v", d)
	}
}

func TestDecideParsedInput(t *testing.T) {
	e := loadedEngine(t, bundle(t, "default allow := false\n\nallow if input.attributes.request.http.path == \"/ok\""))
	v, err := ast.InterfaceToValue(get("/ok"))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := e.Decide(context.Background(), v); err != nil || !d.Allowed {
		t.Errorf("%+v %v", d, err)
	}
}

func TestDecideWithoutPolicy(t *testing.T) {
	d, err := New().Decide(context.Background(), get("/"))
	if !errors.Is(err, ErrNoPolicy) || d.Permitted() || d.Outcome() != OutcomeError {
		t.Errorf("%+v %v", d, err)
	}
}

func TestFailedLoadKeepsLastGood(t *testing.T) {
	good := bundle(t, "default allow := false\n\nallow if input.attributes.request.http.path == \"/ok\"")
	e := loadedEngine(t, good)
	bad := bundletest.ForgeBundle(t, good, "package envoy.authz\n\nallow if {")
	err := e.Load(bad)
	var errs compile.Errors
	if !errors.As(err, &errs) || errs[0].File != "authz.rego" || errs[0].Row != 3 || errs[0].Code != "rego_parse_error" ||
		!strings.Contains(err.Error(), bad.Revision()) {
		t.Fatalf("load error %v", err)
	}
	if e.Revision() != good.Revision() || e.Bundle() != good {
		t.Errorf("revision %s, want %s", e.Revision(), good.Revision())
	}
	if d, err := e.Decide(context.Background(), get("/ok")); err != nil || !d.Allowed || d.Revision != good.Revision() {
		t.Errorf("%+v %v", d, err)
	}
}
