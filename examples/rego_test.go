package examples_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"embassy.dev/embassy/pkg/resource"
)

// decision is one sample request and the decision its policy must reach.
type decision struct {
	principal, method, path string
	allow                   bool
}

// policyCases are sample decisions per "<example>/<namespace>/<policy>";
// every AuthorizationPolicy of the examples must appear here, so a new one
// comes with its cases.
var policyCases = map[string][]decision{
	"quickstart/default/echo-methods": {
		{"", "POST", "/embassy.demo.Echo/Call", true},
		{"", "POST", "/embassy.demo.Echo/Whoami", true},
		{"", "POST", "/embassy.demo.Echo/Other", false},
		{"", "POST", "/grpc.health.v1.Health/Check", false},
	},
	"bookstore/shop/payments-callers": {
		{"spiffe://bookstore.example/ns/shop/sa/checkout", "POST", "/bookstore.payments.v1.Payments/Charge", true},
		{"spiffe://bookstore.example/ns/web/sa/frontend", "POST", "/bookstore.payments.v1.Payments/Charge", false},
		{"spiffe://bookstore.example/ns/shop/sa/checkout", "POST", "/bookstore.payments.v1.Refunds/Refund", false},
	},
	"bookstore/shop/reviews-methods": {
		{"spiffe://bookstore.example/ns/web/sa/frontend", "GET", "/reviews/1", true},
		{"spiffe://bookstore.example/ns/web/sa/frontend", "POST", "/reviews/1", false},
		{"spiffe://bookstore.example/ns/shop/sa/catalog", "HEAD", "/reviews/1", false},
		{"spiffe://bookstore.example/ns/shop/sa/cart", "GET", "/reviews/1", false},
	},
	"bookstore/web/users-web-only": {
		{"spiffe://bookstore.example/ns/web/sa/frontend", "POST", "/bookstore.users.v1.Users/Get", true},
		{"spiffe://bookstore.example/ns/web/sa/frontend", "POST", "/bookstore.users.v1.Admin/Delete", false},
		{"spiffe://bookstore.example/ns/shop/sa/checkout", "POST", "/bookstore.users.v1.Users/Get", false},
	},
}

// TestExamplePoliciesDecide compiles every example AuthorizationPolicy as
// Rego v1 and checks its decisions on sample ext_authz inputs.
func TestExamplePoliciesDecide(t *testing.T) {
	seen := map[string]bool{}
	for _, dir := range exampleDirs(t) {
		rs, err := resource.DecodePath(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			spec, ok := r.Spec.(*resource.AuthorizationPolicySpec)
			if !ok {
				continue
			}
			id := dir + "/" + r.Metadata.Namespace + "/" + r.Metadata.Name
			seen[id] = true
			t.Run(id, func(t *testing.T) { checkPolicy(t, spec, policyCases[id]) })
		}
	}
	for id := range policyCases {
		if !seen[id] {
			t.Errorf("cases for %s, but no such policy", id)
		}
	}
}

func checkPolicy(t *testing.T, spec *resource.AuthorizationPolicySpec, cases []decision) {
	if len(cases) == 0 {
		t.Fatal("no sample decisions for this policy: add them to policyCases")
	}
	data := map[string]any{}
	if len(spec.Data) > 0 {
		if err := json.Unmarshal(spec.Data, &data); err != nil {
			t.Fatal(err)
		}
	}
	query := spec.Query
	if query == "" {
		query = resource.DefaultQuery
	}
	opts := []func(*rego.Rego){rego.Query(query), rego.Store(inmem.NewFromObject(data))}
	for _, m := range spec.Modules {
		opts = append(opts, rego.Module(m.Name, m.Rego))
	}
	ctx := context.Background()
	pq, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	for _, c := range cases {
		input := map[string]any{"attributes": map[string]any{
			"source":  map[string]any{"principal": c.principal},
			"request": map[string]any{"http": map[string]any{"method": c.method, "path": c.path}},
		}}
		rs, err := pq.Eval(ctx, rego.EvalInput(input))
		if err != nil {
			t.Fatalf("eval %+v: %v", c, err)
		}
		if got := rs.Allowed(); got != c.allow {
			t.Errorf("%s %s from %q: allow = %v, want %v", c.method, c.path, c.principal, got, c.allow)
		}
	}
}
