package engine_test

import (
	"context"
	"fmt"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"
)

func decide(rego string, input map[string]any) {
	b, err := compile.Compile("default/example", &resource.AuthorizationPolicySpec{
		Modules: []resource.RegoModule{{Name: "authz.rego", Rego: rego}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	e := engine.New()
	if err := e.Load(b); err != nil {
		fmt.Println(err)
		return
	}
	d, err := e.Decide(context.Background(), input)
	fmt.Printf("%s status=%d headers=%v body=%q\n", d.Outcome(), d.HTTPStatus, d.Headers, d.Body)
	fmt.Println("reason:", d.Reason)
	if err != nil {
		fmt.Println("error:", err)
	}
}

// A boolean result allows or denies; a deny answers 403.
func Example_boolean() {
	decide(`package envoy.authz

default allow := false

allow if input.method == "GET"
`, map[string]any{"method": "DELETE"})
	// Output:
	// deny status=403 headers=[] body=""
	// reason: data.envoy.authz.allow is false
}

// An object result carries "allowed" and what Envoy should do besides:
// here a deny with its own status, headers and body.
func Example_object() {
	decide(`package envoy.authz

allow := {
	"allowed": false,
	"http_status": 401,
	"headers": {"www-authenticate": "Bearer"},
	"body": "token required",
} if not input.token
`, map[string]any{})
	// Output:
	// deny status=401 headers=[{www-authenticate Bearer}] body="token required"
	// reason: data.envoy.authz.allow.allowed is false
}

// A result that is undefined fails closed (unless the policy's failure
// mode is allow), and says so.
func Example_undefined() {
	decide(`package envoy.authz

allow if input.method == "GET"
`, map[string]any{"method": "POST"})
	// Output:
	// error status=403 headers=[] body=""
	// reason: data.envoy.authz.allow is undefined
	// error: data.envoy.authz.allow is undefined
}
