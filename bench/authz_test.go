package bench

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/util"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"
)

// TestMeasureAuthzSmoke runs the authorization section at a tiny size
// without the opa binary: the OPA side is a loopback HTTP server speaking
// OPA's data API from an engine of the same policy, so every path but
// starting the process runs, and both sides must agree on every call.
func TestMeasureAuthzSmoke(t *testing.T) {
	modules := []resource.RegoModule{{Name: "policy.rego", Rego: authzPolicy}}
	b, err := compile.Compile("bench/fake-opa", &resource.AuthorizationPolicySpec{Modules: modules, Data: authzData})
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New()
	if err := e.Load(b); err != nil {
		t.Fatal(err)
	}
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != opaDecisionPath {
			http.NotFound(w, r)
			return
		}
		var body struct {
			Input map[string]any `json:"input"`
		}
		if err := util.NewJSONDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		d, err := e.Decide(r.Context(), body.Input)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"result": d.Allowed})
	}))
	defer fake.Close()

	rep, err := MeasureAuthz(t.Context(), AuthzConfig{Calls: 200, Duration: 5 * time.Second, Clients: 2, opaURL: fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 50 || rep.Allowed == 0 || rep.Allowed == rep.Requests {
		t.Fatalf("request set: %d requests, %d allowed; want 50 with both outcomes", rep.Requests, rep.Allowed)
	}
	for _, row := range []AuthzRow{rep.Embassy, rep.OPA} {
		if row.Calls != 200 || row.Mismatches != 0 || row.P50 <= 0 || row.P50 > row.P99 || row.PerSecond() <= 0 {
			t.Errorf("implausible row %+v", row)
		}
	}
	if rep.Disagreements != 0 || rep.OPASkipped != "" {
		t.Errorf("%d disagreements, skipped %q", rep.Disagreements, rep.OPASkipped)
	}
	var out bytes.Buffer
	if err := WriteAuthzTable(&out, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{authzEmbassyName, authzOPAName, authzRBACName, "no Check call", "vs OPA server", "disagree on 0 of 50"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	t.Logf("\n%s", out.String())
}

// TestMeasureAuthzWithoutOPA reports the comparison as skipped, with the
// reason, and still measures the agent.
func TestMeasureAuthzWithoutOPA(t *testing.T) {
	rep, err := MeasureAuthz(t.Context(), AuthzConfig{Calls: 50, Duration: 5 * time.Second, OPASkipped: "opa is not installed"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteAuthzTable(&out, rep); err != nil {
		t.Fatal(err)
	}
	if rep.Embassy.Calls != 50 || !strings.Contains(out.String(), "skipped: opa is not installed") {
		t.Fatalf("calls %d, table:\n%s", rep.Embassy.Calls, out.String())
	}
}
