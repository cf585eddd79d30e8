package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/events"
)

// TestServicesReportExcludedWorkloads checks that after a Service change
// leaves a stored Workload out, /v1/services shows the allowed list, no
// endpoint for it, and the Workload as excluded, and /v1/events says so.
func TestServicesReportExcludedWorkloads(t *testing.T) {
	bus := events.New(10)
	h := serve(t, Options{Events: bus})
	if code, body := h.applyFiles(false, apiwire.File{Name: "m.yaml", Content: meshtest.ServiceEcho + "---\n" + workloadEcho1}); code != http.StatusOK {
		t.Fatalf("apply: %d %s", code, body)
	}
	narrowed := strings.Replace(meshtest.ServiceEcho, "spec:\n", "spec:\n  serviceAccounts: [echo-v2]\n", 1)
	code, body := h.applyFiles(false, apiwire.File{Name: "svc.yaml", Content: narrowed})
	if code != http.StatusOK || !strings.Contains(string(body), "Workload default/echo-1: spec.services[0]") {
		t.Fatalf("narrowing the Service: %d %s, want it applied with a warning naming echo-1", code, body)
	}
	code, body = h.do(http.MethodGet, "/v1/services", testToken, nil)
	var svcs apiwire.ServicesResponse
	if code != http.StatusOK || json.Unmarshal(body, &svcs) != nil || len(svcs.Services) != 1 {
		t.Fatalf("services: %d %s", code, body)
	}
	s := svcs.Services[0]
	if !slices.Equal(s.ServiceAccounts, []string{"echo-v2"}) || len(s.Endpoints) != 0 ||
		len(s.Excluded) != 1 || s.Excluded[0] != (apiwire.ExcludedWorkload{Workload: "echo-1", Address: "10.0.0.1", ServiceAccount: "echo"}) {
		t.Fatalf("service %+v, want allowed [echo-v2], no endpoints, echo-1 excluded", s)
	}
	var excluded []events.Event
	for _, e := range bus.Recent(0) {
		if e.Kind == events.KindExcluded {
			excluded = append(excluded, e)
		}
	}
	if len(excluded) != 1 || !slices.Equal(excluded[0].Resources, []string{"Workload/default/echo-1", "Service/default/echo"}) ||
		!strings.Contains(excluded[0].Message, "spec.services[0]: service account \"echo\" may not serve service echo.default") {
		t.Fatalf("excluded events %+v, want one naming echo-1 and echo", excluded)
	}
}
