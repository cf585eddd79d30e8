package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/mesh"
)

// TestPolicyModeIsTheModels checks that /v1/policies and explain report
// the mode the model resolved, whatever the compiler returned: a dry-run
// policy whose compilation failed without naming a mode is still dry-run,
// and a policy without a mode is enforced.
func TestPolicyModeIsTheModels(t *testing.T) {
	failing := func(*mesh.AuthorizationPolicy) *mesh.AuthzCompiled {
		return &mesh.AuthzCompiled{Err: "the compiler ran out of memory"}
	}
	h := serve(t, Options{Authz: failing})
	dry := strings.Replace(policyEchoGetOnly, "name: get-only", "name: dry", 1) + "  mode: dry-run\n"
	h.mustApply(apiwire.File{Name: "p.yaml", Content: policyEchoGetOnly + "---\n" + dry})

	got := getJSON[apiwire.PoliciesResponse](h, "/v1/policies")
	modes := map[string]string{}
	for _, p := range got.Policies {
		modes[p.Name] = p.Mode
	}
	if modes["dry"] != mesh.ModeDryRun || modes["get-only"] != mesh.ModeEnforce {
		t.Errorf("modes %v, want dry: dry-run, get-only: enforce", modes)
	}

	code, body := h.do(http.MethodGet, "/v1/policies/default/dry/explain", testToken, nil)
	var ex apiwire.ExplainResponse
	if code != http.StatusOK || json.Unmarshal(body, &ex) != nil || !strings.Contains(ex.Text, "mode dry-run") {
		t.Errorf("explain of the dry-run policy: %d %s, want it to say mode dry-run", code, body)
	}
}
