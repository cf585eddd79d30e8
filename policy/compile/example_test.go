package compile_test

import (
	"errors"
	"fmt"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
)

// A policy that does not parse is refused with OPA's code, message and
// location, each problem a compile.Error an API can turn into a field
// error.
func ExampleCompile_error() {
	_, err := compile.Compile("shop/payments", &resource.AuthorizationPolicySpec{
		Modules: []resource.RegoModule{{Name: "payments.rego", Rego: `package envoy.authz

allow if {
	input.attributes.source.principal ==
}
`}},
	})
	fmt.Println(err)
	var errs compile.Errors
	if errors.As(err, &errs) {
		e := errs[0]
		fmt.Println(e.File, e.Row, e.Col, e.Code)
	}
	// Output:
	// payments.rego:5:1: rego_parse_error: unexpected } token
	// payments.rego 5 1 rego_parse_error
}

// A bundle names its policy and a revision that is a hash of everything
// that decides.
func ExampleCompile() {
	b, err := compile.Compile("default/echo-methods", &resource.AuthorizationPolicySpec{
		Mode: "dry-run",
		Modules: []resource.RegoModule{{Name: "echo.rego", Rego: `package envoy.authz

default allow := false

allow if startswith(input.attributes.request.http.path, "/embassy.demo.Echo/")
`}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.Name(), b.Query(), b.Mode(), b.FailureMode(), len(b.Revision()))
	// Output:
	// default/echo-methods data.envoy.authz.allow dry-run deny 16
}
