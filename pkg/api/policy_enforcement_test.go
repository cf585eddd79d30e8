package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/mesh"
)

// TestPoliciesAndExplainAgreeOnEnforcement checks that /v1/policies and
// explain name the same path for each policy: a dry-run policy that
// compiles to RBAC is ext_authz in both (explain still shows the rules it
// would run as), an enforced one is rbac in both, and an enforced policy
// RBAC cannot express carries, in both, the note that proxyless servers
// it targets deny every call.
func TestPoliciesAndExplainAgreeOnEnforcement(t *testing.T) {
	compiler := func(p *mesh.AuthorizationPolicy) *mesh.AuthzCompiled {
		if strings.HasPrefix(p.Name, "body") {
			return &mesh.AuthzCompiled{Revision: "r-" + p.Name, Mode: p.Mode, Reason: "it reads input.parsed_body, which RBAC cannot see"}
		}
		return &mesh.AuthzCompiled{Revision: "r-" + p.Name, Mode: p.Mode, Compiled: true, RBAC: &rbacv3.RBAC{}}
	}
	h := serve(t, Options{Authz: compiler})
	named := func(name, mode string) string {
		return strings.Replace(policyEchoGetOnly, "name: get-only", "name: "+name, 1) + "  mode: " + mode + "\n"
	}
	h.mustApply(apiwire.File{Name: "p.yaml", Content: named("dry", "dry-run") + "---\n" + named("enforced", "enforce") + "---\n" + named("body", "enforce")})

	list := getJSON[apiwire.PoliciesResponse](h, "/v1/policies")
	want := map[string]string{"dry": apiwire.EnforcedByExtAuthz, "enforced": apiwire.EnforcedByRBAC, "body": apiwire.EnforcedByExtAuthz}
	for _, st := range list.Policies {
		code, body := h.do(http.MethodGet, "/v1/policies/default/"+st.Name+"/explain", testToken, nil)
		var ex apiwire.ExplainResponse
		if code != http.StatusOK || json.Unmarshal(body, &ex) != nil {
			t.Fatalf("explain %s: %d %s", st.Name, code, body)
		}
		if st.Enforcement != want[st.Name] || ex.Enforcement != st.Enforcement || ex.Reason != st.Reason {
			t.Errorf("%s: /v1/policies says %s (%s), explain %s (%s); want both %s", st.Name, st.Enforcement, st.Reason, ex.Enforcement, ex.Reason, want[st.Name])
		}
		denies := st.Name == "body"
		if (st.Proxyless != "") != denies || strings.Contains(ex.Text, "proxyless gRPC servers it targets deny every call") != denies {
			t.Errorf("%s: proxyless note %q, explain:\n%s\nwant the note only for the enforced policy RBAC cannot express", st.Name, st.Proxyless, ex.Text)
		}
	}
	_, body := h.do(http.MethodGet, "/v1/policies/default/dry/explain", testToken, nil)
	var ex apiwire.ExplainResponse
	if json.Unmarshal(body, &ex) != nil || !strings.HasPrefix(ex.Text, "enforced by ext_authz (dry-run") || !strings.Contains(ex.Text, "compiled to RBAC") {
		t.Errorf("explain of a dry-run policy that compiles to RBAC:\n%s\nwant ext_authz first, then the rules it runs as once enforced", ex.Text)
	}
}
